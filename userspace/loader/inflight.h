// Syscalls already in flight when the probes attach. A thread blocked in
// recvfrom() on a keep-alive connection entered the syscall before the sensor
// existed, so its sys_enter was never seen and the request it is about to
// receive would be lost. /proc/PID/task/TID/syscall shows such threads with
// their arguments; seeding the kernel's per-thread stash with them recovers
// that request. The kernel checks the syscall number at exit, so an entry for
// a syscall that ended meanwhile is discarded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <linux/types.h>

#include "spanwire.h"

namespace spanwire {

struct InflightSyscall {
  uint32_t tgid = 0;
  uint32_t tid = 0;
  long nr = -1;
  uint64_t args[6] = {};
};

// Parses the contents of /proc/PID/task/TID/syscall: "NR ARG1 ... ARG6 SP PC"
// (hex arguments); nullopt for "running" or a thread not in a syscall.
std::optional<InflightSyscall> parse_proc_syscall(std::string_view text);

// The stash entry for a traced socket syscall, or nullopt for other syscalls.
std::optional<sw_io_args> stash_for(const InflightSyscall& call, uint64_t now_ns);

struct SeedEntry {
  uint64_t pid_tgid;
  sw_io_args args;
};

// Threads of every process but `self_tgid` blocked in traced I/O on a socket.
std::vector<SeedEntry> scan_inflight_socket_io(const std::string& proc_root, uint32_t self_tgid, uint64_t now_ns);

}  // namespace spanwire
