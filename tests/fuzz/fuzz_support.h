// Shared by the libFuzzer targets: a deterministic generator (seeded from the
// input, so every crash reproduces) and an invariant check that aborts loudly.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace spanwire::fuzz {

class Xorshift {
 public:
  explicit Xorshift(uint32_t seed) : state_(seed | 1) {}
  uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  uint32_t below(uint32_t n) { return next() % n; }

 private:
  uint32_t state_;
};

inline void check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "invariant violated: %s\n", what);
    abort();
  }
}

}  // namespace spanwire::fuzz
