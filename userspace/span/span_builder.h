// Turns one HTTP/1 exchange on a connection into an OpenTelemetry span:
// kind from the connection's role, name "{METHOD} {route}", attributes per
// the OpenTelemetry HTTP semantic conventions, status per the span kind, and
// trace context from a W3C traceparent header when the request carries one.
#pragma once

#include <memory>
#include <optional>

#include "conn/connection_info.h"
#include "http1/exchange_matcher.h"
#include "http2/stream.h"
#include "span/clock.h"
#include "span/span.h"
#include "span/trace_context.h"
#include "span/url_redaction.h"

namespace spanwire {

class SpanBuilder {
 public:
  SpanBuilder(const MonotonicToUnix& clock, IdGenerator& ids, UrlRedaction redaction = UrlRedaction())
      : clock_(clock), ids_(ids), redaction_(std::move(redaction)) {}

  Span build(const ConnectionInfo& conn, const http1::Exchange& exchange,
             std::shared_ptr<const Resource> resource);
  // An HTTP/2 stream: a gRPC call (content-type application/grpc*) or an HTTP exchange.
  Span build(const ConnectionInfo& conn, const http2::Stream& stream, std::shared_ptr<const Resource> resource);

 private:
  // Kind, ids, trace context, times and what the trace linker needs: what every
  // span of an exchange has. request_offset: the request's first byte in the
  // client -> server stream.
  Span start_span(const ConnectionInfo& conn, std::shared_ptr<const Resource> resource,
                  const std::optional<InboundContext>& context, uint64_t start_ts, uint64_t end_ts,
                  uint64_t request_offset);

  const MonotonicToUnix& clock_;
  IdGenerator& ids_;
  const UrlRedaction redaction_;  // url.query and url.full never carry secrets
};

// The request at request_offset of conn as both ends see it; nullopt when its
// position cannot be known on both ends (no TCP sequence, midstream TLS).
std::optional<ExchangeKey> exchange_key(const ConnectionInfo& conn, uint64_t request_offset);

// "GET" and the other RFC 9110 / RFC 5789 methods as they are; anything else "_OTHER".
std::string_view known_method(std::string_view method);

}  // namespace spanwire
