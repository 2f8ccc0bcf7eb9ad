// OTLP/gRPC: one unary Export call per send, on a channel that connects on
// first use and reconnects by itself. Works for any signal through a generic
// stub, so traces and metrics share one implementation.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "export/otlp_transport.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace spanwire {

inline constexpr uint16_t kOtlpGrpcDefaultPort = 4317;

struct OtlpEndpoint {
  std::string target;  // "host:port" as gRPC expects it
  bool tls = false;
};

// Accepts "http://host[:port]", "https://host[:port]" or "host[:port]"; the
// port defaults to 4317. Without a scheme the connection uses TLS unless
// `insecure` (OTEL_EXPORTER_OTLP_INSECURE), as the OTLP specification says.
// Throws std::invalid_argument with a message fit for the user.
OtlpEndpoint parse_otlp_endpoint(std::string_view endpoint, bool insecure = false);

class OtlpGrpcTransport final : public OtlpTransport {
 public:
  // Throws std::invalid_argument for an unusable endpoint or unreadable
  // certificate files. Does not connect.
  explicit OtlpGrpcTransport(const OtlpSettings& settings);
  ~OtlpGrpcTransport() override;

  ExportResult send(Signal signal, std::string_view request, google::protobuf::Message& response) override;
  void cancel() override;
  std::string describe() const override;

 private:
  const OtlpSettings settings_;
  const OtlpEndpoint endpoint_;
  std::shared_ptr<grpc::Channel> channel_;

  std::mutex mutex_;  // guards the two below: cancel() comes from another thread
  grpc::ClientContext* in_flight_ = nullptr;
  bool cancelled_ = false;
};

// The OTLP specification's rule for gRPC status codes (exposed for tests).
// `has_retry_info`: the status carried a google.rpc.RetryInfo.
bool grpc_code_is_retryable(int code, bool has_retry_info);

}  // namespace spanwire
