// Kernel timestamps (bpf_ktime_get_ns, CLOCK_MONOTONIC) to Unix time.
#pragma once

#include <cstdint>

namespace spanwire {

class MonotonicToUnix {
 public:
  MonotonicToUnix() { recalibrate(); }
  // Measures the offset again (call now and then: NTP slews the wall clock).
  void recalibrate();
  uint64_t to_unix_ns(uint64_t monotonic_ns) const { return monotonic_ns + offset_ns_; }
  int64_t offset_ns() const { return static_cast<int64_t>(offset_ns_); }

 private:
  uint64_t offset_ns_ = 0;
};

uint64_t monotonic_now_ns();

}  // namespace spanwire
