// Spans from protocol messages the way the daemon makes them: the protocol
// module's conventions (message -> exchange record), then SpanBuilder
// (record -> span). For tests that build spans from canned messages.
#pragma once

#include <memory>

#include "common/protocol_counters.h"
#include "http1/semconv.h"
#include "http2/session.h"
#include "span/span_builder.h"

namespace spanwire::testing {

class ExchangeSpans {
 public:
  ExchangeSpans(const MonotonicToUnix& clock, IdGenerator& ids, UrlRedaction redaction = UrlRedaction())
      : builder_(clock, ids), settings_{{}, std::move(redaction)} {}

  Span build(const ConnectionInfo& conn, const http1::Exchange& exchange, std::shared_ptr<const Resource> resource) {
    return builder_.build(conn, http1::to_record(conn, exchange, settings_.url_redaction), std::move(resource));
  }
  Span build(const ConnectionInfo& conn, const http2::Stream& stream, std::shared_ptr<const Resource> resource) {
    return builder_.build(conn, http2_->to_record(conn, stream), std::move(resource));
  }

 private:
  SpanBuilder builder_;
  ProtocolSettings settings_;
  CounterBoard counters_;
  std::unique_ptr<http2::Session> http2_ = http2::make_session(SessionContext{settings_, counters_});
};

}  // namespace spanwire::testing
