// Lets one line through per interval and counts the others, so a collector
// that stays down produces one warning per interval instead of one per batch.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace spanwire {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}
  // nullopt: stay quiet. Otherwise log, mentioning the returned number of
  // lines suppressed since the previous one.
  std::optional<uint64_t> admit(Clock::time_point now) {
    if (last_ && now - *last_ < interval_) {
      ++suppressed_;
      return std::nullopt;
    }
    last_ = now;
    return std::exchange(suppressed_, 0);
  }

  // What ends the line that admit() let through: empty, or how many similar
  // lines were suppressed before it.
  static std::string suppressed_note(uint64_t suppressed) {
    return suppressed == 0 ? std::string() : " (" + std::to_string(suppressed) + " similar warnings suppressed)";
  }

 private:
  Clock::duration interval_;
  std::optional<Clock::time_point> last_;
  uint64_t suppressed_ = 0;
};

}  // namespace spanwire
