// The loaded kernel side: owns the BPF object, every attached link and the
// ring buffer (RAII: destroying the Sensor detaches every probe). A thin
// loader in the libbpf-tools style: open, set rodata, load, attach.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <optional>
#include <vector>

#include "loader/cgroup_root.h"
#include "loader/ring_reader.h"
#include "tls/go_tls.h"

struct bpf_link;
struct spanwire_bpf;

namespace spanwire {

class Metrics;

struct SensorOptions {
  uint32_t payload_cap = 16384;            // bytes copied per event at most
  uint32_t ringbuf_bytes = 16u << 20;      // power of two, multiple of the page size
  std::vector<uint32_t> pids;              // trace only these processes (empty: all)
  std::vector<std::string> comms;          // trace only these process names (empty: all)
  std::vector<uint32_t> netns_inodes;      // trace only sockets in these network namespaces (empty: all)
  bool propagation = true;                 // decide trace context in the kernel, carry it in a TCP option
  bool shed = true;                        // shed whole connections in the kernel when the ring fills
};

class Sensor {
 public:
  struct LinkDeleter { void operator()(bpf_link* l) const; };
  using Link = std::unique_ptr<bpf_link, LinkDeleter>;

  // Receives every ring-buffer record (the bytes are valid during the call only).
  using RecordHandler = RingRecordHandler;

  // Loads and attaches; throws StartupError with a one-line explanation.
  Sensor(const SensorOptions& options, RecordHandler handler);
  // One line saying why propagation cannot run here, or empty (checked before loading).
  static std::string propagation_blocker(std::optional<CgroupRoot>* root);
  ~Sensor();
  Sensor(const Sensor&) = delete;
  Sensor& operator=(const Sensor&) = delete;

  int ring_buffer_fd() const;       // the ring's map fd: readable (EPOLLIN) when the kernel signalled records
  size_t consume();                 // handles every committed record; returns the count
  const std::vector<std::string>& attached_hooks() const { return attached_; }
  // Whether the TCP option is stamped and read (the sock_ops program is attached).
  bool propagating() const { return propagating_; }

  // Copies the kernel's counters into the metrics (kernel_* fields). A counter
  // that cannot be read keeps its value; false then (and counted).
  bool read_kernel_stats(Metrics& metrics) const;
  // The ring-buffer drop count now, summed over CPUs; nullopt if unreadable.
  std::optional<uint64_t> read_ringbuf_drops() const;
  // Drops the kernel's state of one connection: its next syscall re-announces it.
  void forget_connection(uint32_t tgid, int32_t fd);
  // Recovers socket syscalls that were already blocked when the probes
  // attached (see inflight.h); returns how many threads were seeded.
  size_t seed_inflight_syscalls();
  // Registers the local ports of the sensor's TCP connections opened before
  // the probes attached (loader/own_sockets.h); returns how many.
  size_t seed_own_ports();
  // Drops the kernel's connection state of exited processes; false if the
  // table could not be swept (the caller retries with the next sweep).
  [[nodiscard]] bool forget_processes(const std::unordered_set<uint32_t>& tgids);
  // Attaches the TLS uprobes to the functions of one library or executable file,
  // for every process that maps it (now or later). `functions` are the ones the
  // file defines, of SSL_read, SSL_write, SSL_read_ex, SSL_write_ex, SSL_set_fd.
  // Returns the links (destroying them detaches); empty with *error set on failure.
  std::vector<Link> attach_tls(const std::string& path, const std::vector<std::string>& functions,
                               std::string* error);
  // Attaches the Go probes (bpf/go_hooks.bpf.h) to one Go executable, for
  // every process that runs it: entries, and every RET where the return
  // side is needed. The socket offsets go to the kernel under a cookie that
  // release_go() frees once the links are gone. Empty with *error on failure.
  struct GoAttachment {
    std::vector<Link> links;
    uint64_t cookie = 0;
  };
  GoAttachment attach_go(const std::string& path, const tls::GoTlsInfo& go, std::string* error);
  void release_go(uint64_t cookie);

 private:
  std::optional<uint64_t> read_stat(uint32_t idx) const;  // one counter of `stats`, summed over CPUs
  struct SkeletonDeleter { void operator()(spanwire_bpf* s) const; };

  RecordHandler handler_;
  std::unique_ptr<spanwire_bpf, SkeletonDeleter> skel_;
  std::vector<Link> links_;
  std::optional<CgroupRoot> cgroup_;  // where the sock_ops program is attached
  bool propagating_ = false;
  std::optional<RingReader> ring_;
  std::vector<std::string> attached_;
  uint64_t next_go_cookie_ = 1;
};

}  // namespace spanwire
