#include "loader/sensor.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <algorithm>
#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

#include "loader/inflight.h"
#include "loader/own_sockets.h"
#include "loader/preflight.h"
#include "metrics/metrics.h"
#include "spanwire.h"
#include "spanwire.skel.h"

namespace spanwire {

namespace {
int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  // libbpf's messages (verifier logs included) are for debugging; failures are
  // reported by us in one line.
  if (level == LIBBPF_DEBUG && !spdlog::should_log(spdlog::level::trace)) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string msg(static_cast<size_t>(n) + 1, '\0');  // verifier logs can be long: keep all of it
  vsnprintf(msg.data(), msg.size(), fmt, args);
  msg.resize(static_cast<size_t>(n));
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  spdlog::debug("libbpf: {}", msg);
  return 0;
}

std::string hook_name(const bpf_program* prog) {
  // "tracepoint/syscalls/sys_enter_read" -> "syscalls:sys_enter_read"
  std::string sec = bpf_program__section_name(prog);
  auto first = sec.find('/');
  if (first == std::string::npos) return sec;
  std::string rest = sec.substr(first + 1);
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest[slash] = ':';
  return rest;
}

bool hook_is_optional(const std::string& name) {
  // Hooks whose absence only narrows coverage; everything else is required.
  return name.find("mmsg") != std::string::npos || name.find("sendfile") != std::string::npos ||
         name.find("sched_process_exec") != std::string::npos;
}

// TLS library hooks are attached per library file (attach_tls), and the
// sock_ops program to the cgroup root, not by section name at start.
bool attached_elsewhere(const bpf_program* prog) {
  std::string_view sec = bpf_program__section_name(prog);
  return sec.rfind("uprobe", 0) == 0 || sec.rfind("uretprobe", 0) == 0 || sec == "sockops";
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }
}  // namespace

std::string Sensor::propagation_blocker(std::optional<CgroupRoot>* root) {
  if (!may_attach_sock_ops())
    return "missing CAP_NET_ADMIN (needed for the sock_ops program that writes the TCP option); grant it, or run "
           "with --propagation off to silence this";
  std::string why;
  if (auto opened = CgroupRoot::open(&why)) root->emplace(std::move(*opened));
  return *root ? std::string() : why;
}

void Sensor::SkeletonDeleter::operator()(spanwire_bpf* s) const { spanwire_bpf__destroy(s); }
void Sensor::LinkDeleter::operator()(bpf_link* l) const { bpf_link__destroy(l); }

Sensor::Sensor(const SensorOptions& options, RecordHandler handler) : handler_(std::move(handler)) {
  libbpf_set_print(libbpf_log);
  run_preflight_checks();

  skel_.reset(spanwire_bpf__open());
  if (!skel_) throw StartupError("cannot open the BPF object: " + errno_text(errno));

  std::string blocker;
  if (options.propagation) {
    blocker = propagation_blocker(&cgroup_);
    if (!blocker.empty()) spdlog::warn("trace context propagation is off: {}", blocker);
  }
  const bool propagate = options.propagation && blocker.empty();
  skel_->rodata->propagation_on = propagate;
  skel_->rodata->filter_by_netns = !options.netns_inodes.empty();
  if (int err = bpf_program__set_autoload(skel_->progs.sw_sock_ops, propagate))
    throw StartupError("cannot select the BPF programs to load: " + errno_text(err));

  skel_->rodata->self_tgid = static_cast<uint32_t>(getpid());
  skel_->rodata->payload_cap = std::min<uint32_t>(options.payload_cap, SW_MAX_PAYLOAD);
  skel_->rodata->filter_by_pid = !options.pids.empty();
  skel_->rodata->filter_by_comm = !options.comms.empty();
  // Batched wakeups: the pipeline reads the ring every 100 ms anyway, so the
  // kernel wakes it early only when a sixteenth of the ring (at most 256 KiB)
  // waits, and once more for each further sixteenth (bpf/maps.bpf.h).
  skel_->rodata->wakeup_bytes = std::min<uint32_t>(options.ringbuf_bytes / 16, 256u << 10);
  if (options.shed) {
    // Refuse new connections when half the ring waits, cut traced ones one by
    // one from 5/8, all from 3/4 (far from full: the calls in flight and the
    // close events must fit), trace again below a quarter (bpf/shed.bpf.h).
    skel_->rodata->shed_new_above = options.ringbuf_bytes / 2;
    skel_->rodata->shed_cut_above = options.ringbuf_bytes / 8 * 5;
    skel_->rodata->shed_cut_all_above = options.ringbuf_bytes / 4 * 3;
    skel_->rodata->shed_resume_below = options.ringbuf_bytes / 4;
  }
  if (int err = bpf_map__set_max_entries(skel_->maps.events, options.ringbuf_bytes))
    throw StartupError("invalid ring buffer size " + std::to_string(options.ringbuf_bytes) + ": " + errno_text(err));
  // The data event scratch has one slot per CPU (the kernel programs index it
  // by the CPU they run on).
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw StartupError("cannot count this machine's CPUs: " + errno_text(cpus));
  if (int err = bpf_map__set_max_entries(skel_->maps.data_scratch, static_cast<uint32_t>(cpus)))
    throw StartupError("cannot size the data event scratch map: " + errno_text(err));

  auto t0 = std::chrono::steady_clock::now();
  if (int err = spanwire_bpf__load(skel_.get())) {
    // The verifier also answers EACCES when it rejects a program: as root,
    // that is what it means.
    const bool unprivileged = err == -EPERM || (err == -EACCES && geteuid() != 0);
    std::string hint = unprivileged ? "permission denied: run as root or with CAP_BPF and CAP_PERFMON"
                                    : "the kernel's verifier refused the BPF programs (" + errno_text(err) +
                                          "); run with --log-level debug to see its log, and report it with "
                                          "this kernel's version (uname -r)";
    throw StartupError("loading the sensor failed: " + hint);
  }

  // The filter flags are already set in the loaded programs: a filter entry
  // that cannot be written would silently narrow tracing, so it is fatal.
  const uint8_t one = 1;
  for (uint32_t pid : options.pids) {
    if (int err = bpf_map__update_elem(skel_->maps.pid_filter, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY))
      throw StartupError("cannot install the --pid filter for " + std::to_string(pid) + ": " + errno_text(err) +
                         " (at most " + std::to_string(bpf_map__max_entries(skel_->maps.pid_filter)) + " pids)");
  }
  for (const auto& comm : options.comms) {
    char key[SW_COMM_LEN] = {};
    std::strncpy(key, comm.c_str(), sizeof(key) - 1);  // the kernel keeps 15 characters
    if (int err = bpf_map__update_elem(skel_->maps.comm_filter, key, sizeof(key), &one, sizeof(one), BPF_ANY))
      throw StartupError("cannot install the --comm filter for " + comm + ": " + errno_text(err) + " (at most " +
                         std::to_string(bpf_map__max_entries(skel_->maps.comm_filter)) + " names)");
  }

  for (uint32_t inode : options.netns_inodes) {
    if (int err = bpf_map__update_elem(skel_->maps.netns_filter, &inode, sizeof(inode), &one, sizeof(one), BPF_ANY))
      throw StartupError("cannot install the --net-ns filter: " + errno_text(err) + " (at most " +
                         std::to_string(bpf_map__max_entries(skel_->maps.netns_filter)) + " namespaces)");
  }

  auto t1 = std::chrono::steady_clock::now();
  // Every sys_enter_* program auto-attaches by its section name; the shared
  // exit program is attached to the matching sys_exit_* tracepoint of each.
  std::vector<std::pair<bpf_program*, std::string>> hooks;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (prog == skel_->progs.tp_sys_exit || attached_elsewhere(prog)) continue;
    std::string name = hook_name(prog);
    hooks.emplace_back(prog, name);
    const std::string enter = "syscalls:sys_enter_";
    if (name.rfind(enter, 0) == 0 && name != enter + "close") hooks.emplace_back(skel_->progs.tp_sys_exit, "syscalls:sys_exit_" + name.substr(enter.size()));
  }
  for (const auto& [program, name] : hooks) {
    bpf_link* link = nullptr;
    if (program == skel_->progs.tp_sys_exit)
      link = bpf_program__attach_tracepoint(program, "syscalls", name.substr(name.find(':') + 1).c_str());
    else
      link = bpf_program__attach(program);
    if (link == nullptr) {
      int err = errno;
      if (hook_is_optional(name)) {
        spdlog::warn("hook {} not attached ({}): that syscall is not traced", name, errno_text(err));
        continue;
      }
      throw StartupError("attaching " + name + " failed: " + errno_text(err) +
                         " (is tracefs mounted at /sys/kernel/tracing?)");
    }
    links_.emplace_back(link);
    attached_.push_back(name);
  }
  if (propagate) {
    bpf_link* link = bpf_program__attach_cgroup(skel_->progs.sw_sock_ops, cgroup_->fd());
    if (link == nullptr) {
      spdlog::warn("trace context propagation is off: attaching the sock_ops program to {} failed ({}); spans are "
                   "still linked on this host",
                   cgroup_->path(), errno_text(errno));
    } else {
      links_.emplace_back(link);
      attached_.push_back("sock_ops:" + cgroup_->path());
      propagating_ = true;
    }
  }
  auto t2 = std::chrono::steady_clock::now();
  using ms = std::chrono::milliseconds;
  spdlog::debug("BPF programs loaded and verified in {} ms, attached in {} ms",
                std::chrono::duration_cast<ms>(t1 - t0).count(), std::chrono::duration_cast<ms>(t2 - t1).count());
  ring_.emplace(bpf_map__fd(skel_->maps.events));
}

Sensor::~Sensor() {
  auto t0 = std::chrono::steady_clock::now();
  ring_.reset();
  // Each detach waits for an RCU grace period (~75 ms here); destroyed from
  // parallel threads the waits overlap, so Ctrl-C returns promptly.
  {
    std::vector<std::jthread> detachers;
    detachers.reserve(links_.size());
    for (auto& link : links_) detachers.emplace_back([&link] { link.reset(); });
  }
  links_.clear();
  auto t1 = std::chrono::steady_clock::now();
  skel_.reset();
  auto t2 = std::chrono::steady_clock::now();
  using ms = std::chrono::milliseconds;
  spdlog::debug("detached in {} ms, object freed in {} ms", std::chrono::duration_cast<ms>(t1 - t0).count(),
                std::chrono::duration_cast<ms>(t2 - t1).count());
}

int Sensor::ring_buffer_fd() const { return bpf_map__fd(skel_->maps.events); }

size_t Sensor::consume() { return ring_->consume(handler_); }

std::optional<uint64_t> Sensor::read_stat(uint32_t idx) const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return std::nullopt;
  std::vector<uint64_t> values(static_cast<size_t>(ncpu));
  if (bpf_map__lookup_elem(skel_->maps.stats, &idx, sizeof(idx), values.data(), values.size() * sizeof(uint64_t), 0) !=
      0)
    return std::nullopt;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

std::optional<uint64_t> Sensor::read_ringbuf_drops() const { return read_stat(SW_STAT_RINGBUF_DROPS); }

bool Sensor::read_kernel_stats(Metrics& m) const {
  bool complete = true;
  // A counter that cannot be read keeps its last value: reading it as 0
  // would make drops look like they never happened.
  auto read = [&](uint32_t idx, std::atomic<uint64_t>& into) {
    if (auto v = read_stat(idx)) into = *v;
    else complete = false;
  };
  read(SW_STAT_RINGBUF_DROPS, m.kernel_ringbuf_drops);
  read(SW_STAT_BYTES_UNCOPIED, m.kernel_bytes_uncopied);
  read(SW_STAT_CONNS_TRACED, m.kernel_conns_traced);
  read(SW_STAT_CONNS_OTHER, m.kernel_conns_other);
  read(SW_STAT_IOV_TRUNCATED, m.kernel_iov_truncated);
  read(SW_STAT_STASH_FULL, m.kernel_stash_full);
  read(SW_STAT_CONN_MAP_FULL, m.kernel_conn_map_full);
  read(SW_STAT_DATA_EVENTS, m.kernel_data_events);
  read(SW_STAT_TLS_CONNS, m.kernel_tls_conns);
  read(SW_STAT_TLS_ENCRYPTED_BYTES, m.kernel_tls_encrypted_bytes);
  read(SW_STAT_TLS_NO_CONN, m.kernel_tls_no_conn);
  read(SW_STAT_WIRE_STAMPED, m.kernel_wire_stamped);
  read(SW_STAT_WIRE_NO_ROOM, m.kernel_wire_no_room);
  read(SW_STAT_WIRE_RECEIVED, m.kernel_wire_received);
  read(SW_STAT_WIRE_UNSTAMPED_CONNS, m.kernel_wire_unstamped_conns);
  read(SW_STAT_CONTEXTS_DECIDED, m.kernel_contexts_decided);
  read(SW_STAT_SHED_CONNS, m.kernel_shed_connections);
  read(SW_STAT_SHED_CUTS, m.kernel_shed_cuts);
  read(SW_STAT_SHED_RESUMED, m.kernel_shed_resumed);
  read(SW_STAT_SHED_BYTES, m.kernel_shed_bytes);
  read(SW_STAT_BODY_BYTES_SKIPPED, m.kernel_body_bytes_skipped);
  read(SW_STAT_BODY_CUT_SHORT, m.kernel_body_cut_short);
  if (!complete) m.kernel_stats_unreadable++;
  return complete;
}

namespace {
// pidfd_open(2) flag for a thread that is not its group's leader (linux/pidfd.h
// of 6.9; Debian 12's headers predate it).
constexpr unsigned kPidfdThread = O_EXCL;
}  // namespace

size_t Sensor::seed_inflight_syscalls() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
  size_t seeded = 0;
  for (auto& e : scan_inflight_socket_io("/proc", static_cast<uint32_t>(getpid()), now)) {
    // The stash is the thread's own storage, named by a pidfd of the thread
    // (PIDFD_THREAD: Linux 6.9; older kernels name leaders only).
    const pid_t tid = static_cast<pid_t>(e.pid_tgid & 0xffffffffu);
    const bool leader = tid == static_cast<pid_t>(e.pid_tgid >> 32);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, tid, leader ? 0u : kPidfdThread));
    if (pidfd < 0) {
      spdlog::debug("thread {} in socket I/O at start is traced from its next call: pidfd_open: {}", tid,
                    errno_text(errno));
      continue;
    }
    sw_thread_slot slot{};
    slot.io = e.args;
    slot.io.live = 1;
    // NOEXIST: a thread whose storage exists already passed a probe: it left that call.
    if (bpf_map__update_elem(skel_->maps.active_io, &pidfd, sizeof(pidfd), &slot, sizeof(slot), BPF_NOEXIST) == 0)
      ++seeded;
    ::close(pidfd);
  }
  return seeded;
}

size_t Sensor::seed_own_ports() {
  size_t seeded = 0;
  const uint8_t one = 1;
  for (uint16_t port : own_tcp_ports("/proc", static_cast<uint32_t>(getpid())))
    if (bpf_map__update_elem(skel_->maps.self_ports, &port, sizeof(port), &one, sizeof(one), BPF_ANY) == 0) ++seeded;
  return seeded;
}

void Sensor::forget_connection(uint32_t tgid, int32_t fd) {
  sw_conn_key key{tgid, fd};
  bpf_map__delete_elem(skel_->maps.conns, &key, sizeof(key), 0);
}

bool Sensor::forget_processes(const std::unordered_set<uint32_t>& tgids) {
  if (tgids.empty()) return true;
  // Batched reads: one syscall per few thousand entries, not one per key.
  constexpr uint32_t kBatch = 4096;
  const size_t value_size = bpf_map__value_size(skel_->maps.conns);
  std::vector<sw_conn_key> keys(kBatch);
  std::vector<uint8_t> values(kBatch * value_size);
  std::vector<sw_conn_key> doomed;
  uint64_t in_batch = 0, out_batch = 0;
  bool first = true;
  int fd = bpf_map__fd(skel_->maps.conns);
  for (;;) {
    uint32_t count = kBatch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(), values.data(),
                                   &count, nullptr);
    for (uint32_t i = 0; i < count; ++i)
      if (tgids.count(keys[i].tgid) != 0) doomed.push_back(keys[i]);
    if (err == -ENOENT) break;  // the whole table was read
    if (err != 0) {
      spdlog::debug("sweeping the kernel's connection table failed: {}", errno_text(err));
      return false;
    }
    in_batch = out_batch;
    first = false;
  }
  if (doomed.empty()) return true;
  uint32_t count = static_cast<uint32_t>(doomed.size());
  // ENOENT: some entries went away on their own meanwhile (close(2), LRU).
  const int err = bpf_map_delete_batch(fd, doomed.data(), &count, nullptr);
  if (err != 0 && err != -ENOENT) {
    spdlog::debug("deleting {} exited connections from the kernel's table failed: {}", doomed.size(),
                  errno_text(err));
    return false;
  }
  return true;
}

}  // namespace spanwire

namespace spanwire {

std::vector<Sensor::Link> Sensor::attach_tls(const std::string& path, const std::vector<std::string>& functions,
                                             std::string* error) {
  struct Probe {
    const char* function;
    bpf_program* entry;
    bpf_program* exit;  // nullptr: entry only
  };
  const Probe probes[] = {
      {"SSL_write", skel_->progs.uprobe_ssl_write, skel_->progs.uretprobe_ssl_write},
      {"SSL_read", skel_->progs.uprobe_ssl_read, skel_->progs.uretprobe_ssl_read},
      {"SSL_write_ex", skel_->progs.uprobe_ssl_write_ex, skel_->progs.uretprobe_ssl_write_ex},
      {"SSL_read_ex", skel_->progs.uprobe_ssl_read_ex, skel_->progs.uretprobe_ssl_read_ex},
      {"SSL_set_fd", skel_->progs.uprobe_ssl_set_fd, nullptr},
      // GnuTLS: (session, buffer, size) -> bytes, as SSL_write/SSL_read.
      {"gnutls_record_send", skel_->progs.uprobe_ssl_write, skel_->progs.uretprobe_ssl_write},
      {"gnutls_record_recv", skel_->progs.uprobe_ssl_read, skel_->progs.uretprobe_ssl_read},
  };
  std::vector<Link> links;
  for (const Probe& p : probes) {
    if (std::find(functions.begin(), functions.end(), p.function) == functions.end()) continue;
    for (bpf_program* prog : {p.entry, p.exit}) {
      if (prog == nullptr) continue;
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = prog == p.exit, .func_name = p.function);
      // pid -1: every process that maps this file, including ones started later.
      bpf_link* link = bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), 0, &opts);
      if (link == nullptr) {
        if (error) *error = std::string(p.function) + ": " + errno_text(errno);
        return {};  // the links made so far detach here: all or nothing
      }
      links.emplace_back(link);
    }
  }
  if (links.empty() && error)
    *error = "none of SSL_read/SSL_write/SSL_read_ex/SSL_write_ex/gnutls_record_recv/gnutls_record_send is defined";
  return links;
}

Sensor::GoAttachment Sensor::attach_go(const std::string& path, const tls::GoTlsInfo& go, std::string* error) {
  GoAttachment out;
  const uint64_t cookie = next_go_cookie_++;
  const sw_go_offsets offsets = go.layout.offsets;
  if (int err = bpf_map__update_elem(skel_->maps.go_offsets, &cookie, sizeof(cookie), &offsets, sizeof(offsets),
                                     BPF_ANY)) {
    if (error) *error = "cannot hand the socket offsets to the kernel: " + errno_text(err);
    return out;
  }
  out.cookie = cookie;
  auto attach = [&](bpf_program* prog, const std::string& what, uint64_t offset) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie);
    bpf_link* link = bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), offset, &opts);
    if (link == nullptr) {
      if (error) *error = what + ": " + errno_text(errno);
      return false;
    }
    out.links.emplace_back(link);
    return true;
  };
  struct Site {
    const std::optional<tls::GoFunction>& fn;
    bpf_program* entry;
    bpf_program* ret;           // nullptr: entry only
    bool offsets_known = true;  // the struct offsets its program reads were found in DWARF
  };
  const Site sites[] = {
      {go.write, skel_->progs.uprobe_go_tls_write, nullptr},  // copied at entry
      {go.read, skel_->progs.uprobe_go_tls_read, skel_->progs.uprobe_go_tls_read_ret},
      {go.newproc, skel_->progs.uprobe_go_newproc, skel_->progs.uprobe_go_newproc_ret},
      {go.round_trip, skel_->progs.uprobe_go_round_trip, nullptr},
      {go.request_write, skel_->progs.uprobe_go_request_write, nullptr},
      {go.h2_run_handler, skel_->progs.uprobe_go_h2_run_handler, nullptr, go.layout.offsets.h2_known != 0},
  };
  bool ok = true;
  for (const Site& site : sites) {
    if (!ok) break;
    if (!site.fn || site.fn->file_offset == 0 || !site.offsets_known) continue;
    // A function with returns but none found cannot be hooked: its calls would never end.
    if (site.ret && site.fn->ret_offsets.empty()) continue;
    ok = attach(site.entry, site.fn->name, site.fn->file_offset);
    for (uint64_t ret : site.ret ? site.fn->ret_offsets : std::vector<uint64_t>{}) {
      if (!ok) break;
      ok = attach(site.ret, site.fn->name + " RET", ret);
    }
  }
  if (ok && !out.links.empty()) skel_->bss->go_hooked = 1;  // socket calls now ask whether their process is Go
  if (!ok || out.links.empty()) {
    if (ok && error) *error = "no Go function to hook";
    out.links.clear();  // all or nothing
    release_go(cookie);
    out.cookie = 0;
  }
  return out;
}

void Sensor::release_go(uint64_t cookie) {
  if (cookie == 0) return;
  // ENOENT is fine: nothing to free.
  bpf_map__delete_elem(skel_->maps.go_offsets, &cookie, sizeof(cookie), 0);
}

}  // namespace spanwire
