// A count a parser keeps for its own connection (tests and pairing logic read
// it) that also adds, as it grows, to its protocol's counter shared by every
// connection (common/protocol_counters.h), once one is attached. The shared
// counter is never derived by diffing per-connection copies.
#pragma once

#include <atomic>
#include <cstdint>

namespace spanwire {

class Tally {
 public:
  Tally() = default;
  Tally& operator+=(uint64_t n) {
    value_ += n;
    if (shared_ != nullptr && n != 0) shared_->fetch_add(n, std::memory_order_relaxed);
    return *this;
  }
  Tally& operator++() { return *this += 1; }
  uint64_t operator++(int) {
    const uint64_t before = value_;
    *this += 1;
    return before;
  }
  operator uint64_t() const { return value_; }  // NOLINT: reads like the number it is
  // Growth from now on also goes to `shared`.
  void attach(std::atomic<uint64_t>* shared) { shared_ = shared; }

 private:
  uint64_t value_ = 0;
  std::atomic<uint64_t>* shared_ = nullptr;
};

}  // namespace spanwire
