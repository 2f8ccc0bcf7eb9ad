// Trace and span ids: fresh random ones, and W3C trace context read from
// request headers.
#pragma once

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "span/span.h"

namespace spanwire {

// One per pipeline thread: not thread-safe by design (no locking on the hot path).
class IdGenerator {
 public:
  IdGenerator();
  TraceId trace_id();  // never all-zero
  SpanId span_id();    // never all-zero

 private:
  std::mt19937_64 rng_;
};

struct TraceParent {
  TraceId trace_id{};
  SpanId parent_id{};
  uint8_t flags = 0;
};

// Parses a W3C `traceparent` value (version 00 and, per the spec, future
// versions by their first four fields). nullopt for anything invalid,
// including all-zero ids.
std::optional<TraceParent> parse_traceparent(std::string_view value);

// B3 single header (`b3: {trace}-{span}[-{sampled}[-{parent}]]`). The trace id may be
// 64-bit (left-padded with zeros); the span id is the caller's, our parent.
// A sampling-only value ("0", "1", "d") carries no ids: nullopt.
std::optional<TraceParent> parse_b3_single(std::string_view value);
// B3 multi headers: X-B3-TraceId, X-B3-SpanId and optional X-B3-Sampled / X-B3-Flags.
std::optional<TraceParent> parse_b3_multi(const std::string* trace_id, const std::string* span_id,
                                          const std::string* sampled, const std::string* flags);

// The trace context a request carries: W3C traceparent (+ tracestate) first,
// then B3 single, then B3 multi. `header` finds a field by lowercase name.
struct InboundContext {
  TraceParent parent;
  std::string trace_state;
  ContextSource source = ContextSource::kNone;
};
std::optional<InboundContext> read_inbound_context(
    const std::function<const std::string*(std::string_view lowercase_name)>& header);

}  // namespace spanwire
