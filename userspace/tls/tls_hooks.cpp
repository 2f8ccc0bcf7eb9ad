#include "tls/tls_hooks.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.h"

namespace spanwire::tls {

TlsHooks::TlsHooks(Discovery& discovery, Attacher attacher, Metrics& metrics, uint32_t self_pid,
                   std::string host_root)
    : discovery_(discovery), attacher_(std::move(attacher)), metrics_(metrics), self_pid_(self_pid),
      host_root_(std::move(host_root)) {}

void TlsHooks::start(uint64_t now) {
  for (const FileKey& key : discovery_.scan_system_libraries(host_root_)) {
    File& file = files_[key];
    file.library = discovery_.libraries().at(key);
    file.host_library = true;
    attach(file);
  }
  for (const ProcessReport& report : discovery_.scan_all()) apply(report);
  next_full_scan_ = now + kFullScanInterval;
}

void TlsHooks::on_exec(uint32_t pid, uint64_t now) {
  if (pid == self_pid_) return;
  for (uint64_t delay : kExecRescans) due_.emplace(now + delay, pid);
}

void TlsHooks::on_exit(uint32_t pid) {
  auto it = used_by_.find(pid);
  if (it == used_by_.end()) return;
  const std::set<FileKey> keys = std::move(it->second);
  used_by_.erase(it);
  for (const FileKey& key : keys) release(key, pid);
}

void TlsHooks::tick(uint64_t now) {
  if (now >= next_full_scan_) {
    // Catches libraries loaded long after exec (a late dlopen) and processes whose
    // exec event was lost.
    next_full_scan_ = now + kFullScanInterval;
    for (const ProcessReport& report : discovery_.scan_all()) apply(report);
  }
  std::set<uint32_t> pids;
  while (!due_.empty() && due_.begin()->first <= now) {
    pids.insert(due_.begin()->second);
    due_.erase(due_.begin());
  }
  for (uint32_t pid : pids) apply(discovery_.scan(pid));
}

size_t TlsHooks::attached_files() const {
  size_t n = 0;
  for (const auto& [key, file] : files_) n += file.probes != nullptr;
  return n;
}

void TlsHooks::apply(const ProcessReport& report) {
  const uint32_t pid = report.pid;
  if (pid == self_pid_) return;
  for (const FileKey& key : report.libraries) {
    if (!used_by_[pid].insert(key).second) continue;  // already known for this process
    auto [it, fresh] = files_.try_emplace(key);
    File& file = it->second;
    file.users.insert(pid);
    if (fresh) {
      file.library = discovery_.libraries().at(key);
      attach(file);
      if (file.probes) {
        spdlog::info("TLS: hooked {} (first user: {} pid {})", file.library.path, report.comm, pid);
      }
    }
  }
}

void TlsHooks::attach(File& file) {
  std::string error;
  file.probes = attacher_(file.library, &error);
  if (file.probes) {
    spdlog::debug("TLS: uprobes on {} ({})", file.library.open_path, fmt::join(file.library.symbols.names(), ", "));
  } else {
    file.error = error;
    metrics_.tls_attach_failures++;
    spdlog::warn("TLS traffic through {} is not traced: attaching uprobes failed ({})", file.library.path, error);
  }
  metrics_.tls_files_hooked = attached_files();
}

void TlsHooks::release(const FileKey& key, uint32_t pid) {
  auto it = files_.find(key);
  if (it == files_.end()) return;
  it->second.users.erase(pid);
  if (!it->second.users.empty() || it->second.host_library) return;
  spdlog::debug("TLS: last user of {} exited: detaching", it->second.library.path);
  files_.erase(it);  // detaches
  metrics_.tls_files_hooked = attached_files();
}

}  // namespace spanwire::tls
