// Turns one exchange record of a connection into an OpenTelemetry span: kind
// from the connection's role, ids, trace context from the carrier fields the
// request brought (W3C traceparent, B3), times, the network attributes every
// span has, and what the trace linker needs. Name, protocol attributes and
// status come from the record: each protocol module owns its conventions.
#pragma once

#include <memory>
#include <optional>

#include "common/exchange_record.h"
#include "conn/connection_info.h"
#include "span/clock.h"
#include "span/span.h"
#include "span/trace_context.h"

namespace spanwire {

class SpanBuilder {
 public:
  SpanBuilder(const MonotonicToUnix& clock, IdGenerator& ids) : clock_(clock), ids_(ids) {}

  Span build(const ConnectionInfo& conn, ExchangeRecord&& record, std::shared_ptr<const Resource> resource);

 private:
  const MonotonicToUnix& clock_;
  IdGenerator& ids_;
};

// The request at request_offset of conn as both ends see it; nullopt when its
// position cannot be known on both ends (no TCP sequence, midstream TLS).
std::optional<ExchangeKey> exchange_key(const ConnectionInfo& conn, uint64_t request_offset);

}  // namespace spanwire
