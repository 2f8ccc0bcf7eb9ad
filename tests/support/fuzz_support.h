// Shared by the libFuzzer targets: a deterministic generator (seeded from the
// input, so every crash reproduces) and an invariant check that aborts loudly.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

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

// The input layout both targets share: bytes 0-1 split point between the two
// directions (big-endian, modulo the payload size), byte 2 flags, byte 3 a
// seed (and a knob), the rest the payload.
struct FuzzInput {
  std::string_view payload;
  size_t split = 0;
  uint8_t flags = 0;
  uint8_t knob = 0;  // byte 3
  Xorshift rng{1};
};

inline std::optional<FuzzInput> decode_input(const uint8_t* data, size_t size) {
  if (size < 4) return std::nullopt;
  FuzzInput in;
  in.payload = std::string_view(reinterpret_cast<const char*>(data) + 4, size - 4);
  in.split = ((size_t{data[0]} << 8) | data[1]) % (in.payload.size() + 1);
  in.flags = data[2];
  in.knob = data[3];
  in.rng = Xorshift(data[3] * 0x9E3779B9u ^ static_cast<uint32_t>(size));
  return in;
}

inline void check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "invariant violated: %s\n", what);
    abort();
  }
}

}  // namespace spanwire::fuzz
