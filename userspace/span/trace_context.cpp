#include "span/trace_context.h"
#include "common/text.h"

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

// B3 trace ids are 16 or 32 hex digits; 64-bit ones are left-padded.
bool parse_b3_trace_id(std::string_view s, TraceId& out) {
  out = {};
  if (s.size() == 32) return parse_id(s, out);
  if (s.size() != 16) return false;
  std::array<uint8_t, 8> low{};
  if (!parse_id(s, low)) return false;
  std::copy(low.begin(), low.end(), out.begin() + 8);
  return true;
}

// "1"/"d" (debug implies sampled) or "true" (old multi-header form) sample; "0" does not.
uint8_t b3_flags(std::string_view sampled, uint8_t absent) {
  if (sampled.empty()) return absent;
  return sampled == "1" || sampled == "d" || sampled == "true" ? 1 : 0;
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
  v = trim_optional_whitespace(v);
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

std::optional<TraceParent> parse_b3_single(std::string_view v) {
  v = trim_optional_whitespace(v);
  const size_t dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;  // sampling decision only
  TraceParent tp;
  if (!parse_b3_trace_id(v.substr(0, dash), tp.trace_id)) return std::nullopt;
  std::string_view rest = v.substr(dash + 1);
  const size_t dash2 = rest.find('-');
  if (!parse_id(rest.substr(0, dash2), tp.parent_id)) return std::nullopt;
  std::string_view sampled = dash2 == std::string_view::npos ? std::string_view{} : rest.substr(dash2 + 1);
  sampled = sampled.substr(0, sampled.find('-'));  // the caller's parent id may follow
  tp.flags = b3_flags(sampled, 1);
  return tp;
}

std::optional<TraceParent> parse_b3_multi(const std::string* trace_id, const std::string* span_id,
                                          const std::string* sampled, const std::string* flags) {
  if (!trace_id || !span_id) return std::nullopt;
  TraceParent tp;
  if (!parse_b3_trace_id(trim_optional_whitespace(*trace_id), tp.trace_id) ||
      !parse_id(trim_optional_whitespace(*span_id), tp.parent_id))
    return std::nullopt;
  tp.flags = flags && trim_optional_whitespace(*flags) == "1"
                 ? 1
                 : b3_flags(sampled ? trim_optional_whitespace(*sampled) : "", 1);
  return tp;
}

std::optional<InboundContext> read_inbound_context(
    const std::function<const std::string*(std::string_view)>& header) {
  InboundContext ctx;
  if (const std::string* v = header("traceparent")) {
    if (auto tp = parse_traceparent(*v)) {
      ctx.parent = *tp;
      if (const std::string* state = header("tracestate")) ctx.trace_state = *state;
      ctx.source = ContextSource::kTraceparent;
      return ctx;
    }
  }
  std::optional<TraceParent> b3;
  if (const std::string* v = header("b3")) b3 = parse_b3_single(*v);
  if (!b3) b3 = parse_b3_multi(header("x-b3-traceid"), header("x-b3-spanid"), header("x-b3-sampled"),
                               header("x-b3-flags"));
  if (!b3) return std::nullopt;
  ctx.parent = *b3;
  ctx.source = ContextSource::kB3;
  return ctx;
}

}  // namespace spanwire
