#include "span/clock.h"

#include <time.h>

#include <limits>

namespace spanwire {

namespace {
uint64_t read_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

uint64_t monotonic_now_ns() { return read_ns(CLOCK_MONOTONIC); }

void MonotonicToUnix::recalibrate() {
  // Bracket a wall-clock read between two monotonic reads and keep the
  // tightest bracket: its midpoint is the best estimate of "the same instant".
  uint64_t best_width = std::numeric_limits<uint64_t>::max();
  for (int i = 0; i < 5; ++i) {
    uint64_t before = read_ns(CLOCK_MONOTONIC);
    uint64_t wall = read_ns(CLOCK_REALTIME);
    uint64_t after = read_ns(CLOCK_MONOTONIC);
    if (after - before < best_width) {
      best_width = after - before;
      offset_ns_ = wall - (before + (after - before) / 2);
    }
  }
}

}  // namespace spanwire
