// gRPC as a layer of HTTP/2 streams: it counts the length-prefixed messages
// of application/grpc* stream sides and describes gRPC calls per
// OpenTelemetry's RPC semantic conventions.
#pragma once

#include "http2/session.h"

namespace spanwire::grpc {

class Layer final : public http2::StreamLayer {
 public:
  std::unique_ptr<http2::DataTap> tap(const http2::StreamSide& side) const override;
  bool describe(ExchangeRecord& record, const ConnectionFacts& conn, const http2::Stream& stream) const override;
};

extern const Semconv kSemconv;

}  // namespace spanwire::grpc
