#include "loader/preflight.h"

#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <sstream>
#include <system_error>

#include <spdlog/spdlog.h>

namespace spanwire {

namespace {
constexpr int kCapDacReadSearch = 2;
constexpr int kCapNetAdmin = 12;
constexpr int kCapSysPtrace = 19;
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool has_cap(uint64_t mask, int cap) { return (mask >> cap) & 1; }

uint64_t effective_capabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

// Whether the tracefs `path` exists. A directory the sensor may not search
// (tracefs is mode 0700 on many hosts) is a start-up error naming what is
// missing, not an exception that aborts the process.
bool exists_or_explain(const std::string& path) {
  std::error_code ec;
  const bool found = std::filesystem::exists(path, ec);
  if (ec == std::errc::permission_denied)
    throw StartupError("cannot read " + path + " (" + ec.message() +
                       "): tracefs is readable by root only on this host; add CAP_DAC_READ_SEARCH (the "
                       "least-privilege set in the README has it) or run as root");
  return found && !ec;
}

bool tracefs_has_syscalls() {
  return exists_or_explain("/sys/kernel/tracing/events/syscalls") ||
         exists_or_explain("/sys/kernel/debug/tracing/events/syscalls");
}

bool tracefs_mounted() {
  return exists_or_explain("/sys/kernel/tracing/events") || exists_or_explain("/sys/kernel/debug/tracing/events");
}
}  // namespace

KernelVersion parse_kernel_release(const std::string& release) {
  KernelVersion v;
  char dot = 0;
  std::istringstream in(release);
  in >> v.major >> dot >> v.minor;
  return v;
}

bool capabilities_allow_bpf(uint64_t cap_eff) { return missing_required_capabilities(cap_eff).empty(); }

std::string missing_required_capabilities(uint64_t cap_eff) {
  if (has_cap(cap_eff, kCapSysAdmin)) return {};  // covers both on every kernel
  std::string missing;
  if (!has_cap(cap_eff, kCapBpf)) missing += "CAP_BPF (to load BPF programs and maps)";
  if (!has_cap(cap_eff, kCapPerfmon)) {
    if (!missing.empty()) missing += " and ";
    missing += "CAP_PERFMON (to attach tracepoints and uprobes)";
  }
  return missing;
}

bool may_attach_sock_ops() {
  const uint64_t caps = effective_capabilities();
  return has_cap(caps, kCapNetAdmin) || has_cap(caps, kCapSysAdmin);
}

void run_preflight_checks() {
  utsname uts{};
  uname(&uts);
  KernelVersion kv = parse_kernel_release(uts.release);
  // 6.2: bpf_rdonly_cast, which the fd -> socket walk uses on every traced syscall
  // (typed direct reads instead of a helper call per field; docs/PERFORMANCE.md).
  if (kv.major < 6 || (kv.major == 6 && kv.minor < 2))
    throw StartupError(std::string("kernel ") + uts.release +
                       " is too old: spanwire needs Linux 6.2 or newer (BPF ring buffer, bpf_rdonly_cast); "
                       "upgrade the kernel");

  uint64_t caps = effective_capabilities();
  if (const std::string missing = missing_required_capabilities(caps); !missing.empty())
    throw StartupError("missing capabilities: " + missing +
                       "; run as root (sudo), grant them with 'setcap "
                       "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search,cap_net_admin+ep build/spanwire', or in Kubernetes "
                       "use deploy/k8s (privileged) or deploy/k8s-least-privilege");
  if (!has_cap(caps, kCapSysPtrace))
    spdlog::warn("missing CAP_SYS_PTRACE: other users' /proc/PID/environ and exe cannot be read, so their "
                 "OTEL_SERVICE_NAME is not seen and spans fall back to process names");
  if (!has_cap(caps, kCapDacReadSearch))
    spdlog::warn("missing CAP_DAC_READ_SEARCH: TLS libraries inside other users' containers (/proc/PID/root) "
                 "cannot be opened, so their TLS traffic is not traced");

  std::error_code btf_error;
  if (!std::filesystem::exists("/sys/kernel/btf/vmlinux", btf_error))
    throw StartupError("this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): spanwire needs a kernel "
                       "built with CONFIG_DEBUG_INFO_BTF=y (every mainstream distribution kernel since 2021 has it)");

  if (!tracefs_mounted()) {
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0)
      spdlog::info("mounted tracefs at /sys/kernel/tracing");
    else
      throw StartupError(std::string("tracefs is not mounted and mounting it failed (") + std::strerror(errno) +
                         "): run 'mount -t tracefs nodev /sys/kernel/tracing', or in a container mount the host's "
                         "/sys/kernel/tracing");
  }
  if (!tracefs_has_syscalls())
    throw StartupError("the kernel has no syscall tracepoints (events/syscalls missing in tracefs): spanwire needs "
                       "CONFIG_FTRACE_SYSCALLS=y");
}

}  // namespace spanwire
