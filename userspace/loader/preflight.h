// Checks that the sensor can run here, before touching BPF, so that a user
// gets one line saying what is wrong and what to do instead of a libbpf dump.
#pragma once

#include <stdexcept>
#include <string>

namespace spanwire {

// An error a user can hit at start-up; what() is the one line to print.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KernelVersion {
  int major = 0, minor = 0;
};
KernelVersion parse_kernel_release(const std::string& release);  // "6.18.44-fc" -> {6, 18}

// True when effective capabilities (the CapEff mask of /proc/self/status) allow loading the sensor.
bool capabilities_allow_bpf(uint64_t cap_eff);
// The required capabilities cap_eff lacks, each with what it is for; empty
// when the sensor may load (CAP_SYS_ADMIN covers them all).
std::string missing_required_capabilities(uint64_t cap_eff);

// Whether this process may attach the sock_ops program (CAP_NET_ADMIN, or CAP_SYS_ADMIN).
bool may_attach_sock_ops();

// Throws StartupError for the first problem found; mounts tracefs if needed.
void run_preflight_checks();

}  // namespace spanwire
