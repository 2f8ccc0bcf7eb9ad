#include "loader/inflight.h"

#include "util/proc_file.h"
#include "common/text.h"

#include <sys/syscall.h>

#include <filesystem>
#include <system_error>

namespace spanwire {

namespace {
// A decimal number, or hexadecimal after "0x" (/proc/PID/syscall arguments).
bool parse_number(std::string_view s, uint64_t& out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return parse_whole(s.substr(2), out, 16);
  return parse_whole(s, out);
}

std::optional<uint32_t> as_id(const std::filesystem::path& p) {
  uint64_t v = 0;
  std::string name = p.filename().string();
  if (!parse_number(name, v) || v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}
}  // namespace

std::optional<InflightSyscall> parse_proc_syscall(std::string_view text) {
  auto w = split_fields(text, " \n");
  if (w.size() < 7) return std::nullopt;  // "running", or "-1 SP PC" (not in a syscall)
  uint64_t nr = 0;
  if (!parse_number(w[0], nr)) return std::nullopt;
  InflightSyscall call;
  call.nr = static_cast<long>(nr);
  for (int i = 0; i < 6; ++i)
    if (!parse_number(w[1 + i], call.args[i])) return std::nullopt;
  return call;
}

std::optional<sw_io_args> stash_for(const InflightSyscall& call, uint64_t now_ns) {
  sw_io_args a{};
  a.fd = static_cast<int32_t>(call.args[0]);
  a.buf = call.args[1];
  a.nr = static_cast<uint32_t>(call.nr);
  a.ts_start = now_ns;
  a.sk = 0;  // the kernel finds the socket from the fd at exit
  switch (call.nr) {
    case SYS_read: a.sys = SW_SYS_READ; a.dir = SW_DIR_INGRESS; break;
    case SYS_readv: a.sys = SW_SYS_READV; a.dir = SW_DIR_INGRESS; a.count = call.args[2]; break;
    case SYS_recvfrom: a.sys = SW_SYS_RECVFROM; a.dir = SW_DIR_INGRESS; break;
    case SYS_recvmsg: a.sys = SW_SYS_RECVMSG; a.dir = SW_DIR_INGRESS; break;
    case SYS_recvmmsg: a.sys = SW_SYS_RECVMMSG; a.dir = SW_DIR_INGRESS; break;
    case SYS_write: a.sys = SW_SYS_WRITE; a.dir = SW_DIR_EGRESS; break;
    case SYS_writev: a.sys = SW_SYS_WRITEV; a.dir = SW_DIR_EGRESS; a.count = call.args[2]; break;
    case SYS_sendto: a.sys = SW_SYS_SENDTO; a.dir = SW_DIR_EGRESS; break;
    case SYS_sendmsg: a.sys = SW_SYS_SENDMSG; a.dir = SW_DIR_EGRESS; break;
    case SYS_sendmmsg: a.sys = SW_SYS_SENDMMSG; a.dir = SW_DIR_EGRESS; break;
    // A server blocked in accept() when the probes attached: the connection it
    // returns is new, seen from its first byte (not joined mid-way).
    case SYS_accept:
    case SYS_accept4: a.sys = SW_SYS_ACCEPT; a.fd = -1; a.buf = 0; break;
    case SYS_connect: a.sys = SW_SYS_CONNECT; a.buf = 0; break;
    default: return std::nullopt;
  }
  return a;
}

std::vector<SeedEntry> scan_inflight_socket_io(const std::string& proc_root, uint32_t self_tgid, uint64_t now_ns) {
  namespace fs = std::filesystem;
  std::vector<SeedEntry> out;
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator(proc_root, ec)) {
    auto tgid = as_id(proc.path());
    if (!tgid || *tgid == self_tgid) continue;
    std::error_code task_ec;
    for (const auto& task : fs::directory_iterator(proc.path() / "task", task_ec)) {
      auto tid = as_id(task.path());
      if (!tid) continue;
      auto call = parse_proc_syscall(read_proc_file(task.path() / "syscall"));
      if (!call) continue;
      auto args = stash_for(*call, now_ns);
      if (!args) continue;
      std::error_code link_ec;
      // The call's first argument is its socket (the listening one for accept).
      auto target = fs::read_symlink(proc.path() / "fd" / std::to_string(call->args[0]), link_ec);
      if (link_ec || target.string().rfind("socket:", 0) != 0) continue;
      out.push_back({(uint64_t(*tgid) << 32) | *tid, *args});
    }
  }
  return out;
}

}  // namespace spanwire
