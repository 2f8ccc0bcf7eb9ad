#include "span/trace_context.h"

#include <algorithm>

namespace spanwire {

IdGenerator::IdGenerator() {
  std::random_device rd;
  std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  rng_.seed(seed);
}

namespace {
template <size_t N>
void fill_nonzero(std::array<uint8_t, N>& id, std::mt19937_64& rng) {
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < N; ++j) id[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; }));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // the spec allows lowercase hex only
}

bool parse_byte(std::string_view s, uint8_t& out) {
  int hi = hex_value(s[0]), lo = hex_value(s[1]);
  if (hi < 0 || lo < 0) return false;
  out = static_cast<uint8_t>(hi << 4 | lo);
  return true;
}

// A trace or span id: lowercase hex of exactly N bytes, not all zero.
template <size_t N>
bool parse_id(std::string_view s, std::array<uint8_t, N>& out) {
  if (s.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i)
    if (!parse_byte(s.substr(2 * i, 2), out[i])) return false;
  return std::any_of(out.begin(), out.end(), [](uint8_t b) { return b != 0; });
}
}  // namespace

TraceId IdGenerator::trace_id() {
  TraceId id;
  fill_nonzero(id, rng_);
  return id;
}

SpanId IdGenerator::span_id() {
  SpanId id;
  fill_nonzero(id, rng_);
  return id;
}

std::optional<TraceParent> parse_traceparent(std::string_view v) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  v = trim(v);
  // version "-" trace-id "-" parent-id "-" flags  =  2+1+32+1+16+1+2 = 55
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  uint8_t version = 0;
  TraceParent tp;
  if (!parse_byte(v.substr(0, 2), version) || version == 0xff) return std::nullopt;
  // Version 00 is exactly 55 characters; later versions may append "-...".
  if (version == 0 ? v.size() != 55 : (v.size() > 55 && v[55] != '-')) return std::nullopt;
  if (!parse_id(v.substr(3, 32), tp.trace_id) || !parse_id(v.substr(36, 16), tp.parent_id) ||
      !parse_byte(v.substr(53, 2), tp.flags))
    return std::nullopt;
  return tp;
}

}  // namespace spanwire
