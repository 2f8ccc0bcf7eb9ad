// Trace and span ids: fresh random ones, and W3C trace context read from
// request headers.
#pragma once

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

}  // namespace spanwire
