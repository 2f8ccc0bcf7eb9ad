#include "tls/doctor.h"

#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace spanwire::tls {

namespace {
constexpr size_t kExamples = 8;  // processes named per reason; the rest are counted

std::string who(const ProcessReport& r) { return fmt::format("{}[{}]", r.comm, r.pid); }
}  // namespace

std::string doctor_report(Discovery& discovery, uint32_t self_pid, const std::string& host_root) {
  const std::vector<FileKey> host = discovery.scan_system_libraries(host_root);
  const std::set<FileKey> host_set(host.begin(), host.end());
  std::map<FileKey, std::vector<std::string>> users;
  std::map<std::string, std::vector<std::string>> not_hooked;  // reason -> processes
  size_t hooked_processes = 0;
  for (const ProcessReport& r : discovery.scan_all()) {
    if (r.pid == self_pid) continue;
    for (const FileKey& key : r.libraries) users[key].push_back(who(r));
    if (!r.libraries.empty()) {
      ++hooked_processes;
    } else if (r.why_not != "kernel thread" && r.why_not != "process exited") {
      not_hooked[r.why_not].push_back(who(r));
    }
  }

  std::string out =
      "TLS libraries hooked (uprobes on SSL_read/SSL_write and friends, gnutls_record_recv/send, Go's "
      "crypto/tls.(*Conn).Read/Write; one attachment per file):\n";
  if (discovery.libraries().empty()) out += "  none found\n";
  for (const auto& [key, lib] : discovery.libraries()) {
    const char* kind = describe(lib.kind);
    if (lib.go) {
      out += fmt::format("  {}  ({})\n    {}\n", lib.path, kind, describe(*lib.go));
    } else {
      out += fmt::format("  {}  ({}, {}{})\n", lib.path, kind, fmt::join(lib.symbols.names(), " "),
                         host_set.count(key) ? ", host library: hooked at start" : "");
    }
    if (lib.open_path != lib.path) out += fmt::format("    opened as {}\n", lib.open_path);
    auto it = users.find(key);
    if (it == users.end()) {
      out += "    used by no running process (new processes that load it are traced)\n";
    } else {
      out += fmt::format("    used by {}\n", fmt::join(it->second, " "));
    }
  }
  out += fmt::format("\nProcesses whose TLS traffic is traced: {}\n", hooked_processes);
  out += "Processes not covered, by reason (their plaintext traffic is still traced from syscalls):\n";
  if (not_hooked.empty()) out += "  none\n";
  for (const auto& [reason, procs] : not_hooked) {
    std::vector<std::string> shown(procs.begin(), procs.begin() + std::min(procs.size(), kExamples));
    out += fmt::format("  {}: {} process{}: {}{}\n", reason, procs.size(), procs.size() == 1 ? "" : "es",
                       fmt::join(shown, " "), procs.size() > kExamples ? " ..." : "");
  }
  out += "\nNot hooked yet: NSS, rustls, Java (JSSE); Go before 1.18 or on other architectures than amd64.\n";
  return out;
}

}  // namespace spanwire::tls
