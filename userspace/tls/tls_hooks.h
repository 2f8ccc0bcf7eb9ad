// Which TLS library files carry uprobes, kept current as processes come and go.
//
// Uprobes attach to a file (inode), not to a process: one attachment covers
// every process that maps the library, now or later. So the hooks are kept
// per distinct file: the host's own libssl at start (short-lived clients such
// as curl finish before any scan could see them), and every other libssl or
// TLS-carrying executable that a process maps (containers bring their own).
// Processes are scanned at start, shortly after each exec (their libraries
// load after exec, some by dlopen), and all of them periodically. A file found
// through processes is detached when its last user exits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tls/library_discovery.h"

namespace spanwire {
class Metrics;
}

namespace spanwire::tls {

// The probes attached to one file; destroying it detaches them.
class AttachedProbes {
 public:
  virtual ~AttachedProbes() = default;
};
// Attaches the probes to lib (nullptr with *error set when that fails).
using Attacher = std::function<std::unique_ptr<AttachedProbes>(const Library& lib, std::string* error)>;

class TlsHooks {
 public:
  static constexpr uint64_t kFullScanInterval = 10'000'000'000ULL;  // ns
  // Rescans of a process after its exec, in ns after the exec was seen.
  static constexpr uint64_t kExecRescans[] = {150'000'000ULL, 1'000'000'000ULL, 3'000'000'000ULL};

  TlsHooks(Discovery& discovery, Attacher attacher, Metrics& metrics, uint32_t self_pid,
           std::string host_root = "/");

  void start(uint64_t now);                   // host libraries and every running process
  void on_exec(uint32_t pid, uint64_t now);   // a new program image: rescan it soon
  void on_exit(uint32_t pid);                 // detach files it was the last user of
  void tick(uint64_t now);                    // due rescans, periodic full scan

  struct File {
    Library library;
    std::set<uint32_t> users;  // processes seen mapping it
    bool host_library = false;  // found in the host's library directories: kept attached
    std::unique_ptr<AttachedProbes> probes;  // null: not attached (error says why)
    std::string error;
  };
  const std::map<FileKey, File>& files() const { return files_; }
  size_t attached_files() const;

 private:
  void apply(const ProcessReport& report);
  void attach(File& file);
  void release(const FileKey& key, uint32_t pid);

  Discovery& discovery_;
  Attacher attacher_;
  Metrics& metrics_;
  uint32_t self_pid_;
  std::string host_root_;
  std::map<FileKey, File> files_;
  std::map<uint32_t, std::set<FileKey>> used_by_;        // pid -> files it maps
  std::multimap<uint64_t, uint32_t> due_;                // rescan time -> pid
  uint64_t next_full_scan_ = 0;
};

}  // namespace spanwire::tls
