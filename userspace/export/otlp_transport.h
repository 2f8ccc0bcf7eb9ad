// One OTLP export call over the wire: OTLP/gRPC or OTLP/HTTP with protobuf
// bodies. A transport knows nothing of batching or retries (OtlpSpanExporter
// and RetryingSender do that); it sends one request, waits at most the configured
// timeout, and classifies the outcome the way the OTLP specification does.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace google::protobuf {
class Message;
}

namespace spanwire {

enum class Signal { kTraces, kMetrics };

struct ExportResult {
  enum class Outcome {
    kOk,         // accepted (possibly in part: see the response's partial_success)
    kRetryable,  // gRPC UNAVAILABLE, DEADLINE_EXCEEDED, ...; HTTP 429/502/503/504; connection errors
    kPermanent,  // anything else: retrying cannot help
  };
  Outcome outcome = Outcome::kPermanent;
  // The server's wish (gRPC RetryInfo, HTTP Retry-After); overrides the backoff.
  std::optional<std::chrono::milliseconds> retry_after;
  // Short, stable label for the failures-by-reason metric: "unavailable",
  // "deadline_exceeded", "http_503", "connect", "tls", "cancelled", ...
  std::string reason;
  // One line for the log: what went wrong and what to check.
  std::string detail;
};

class OtlpTransport {
 public:
  virtual ~OtlpTransport() = default;
  // Sends one Export{Trace,Metrics}ServiceRequest, already serialized (the
  // trace exporter encodes spans straight to wire bytes), and, on success,
  // fills the matching Export*ServiceResponse (which may carry a partial success).
  virtual ExportResult send(Signal signal, std::string_view request, google::protobuf::Message& response) = 0;
  // Aborts a send() in flight from another thread (shutdown); later sends
  // fail at once with reason "cancelled".
  virtual void cancel() = 0;
  // For logs: "OTLP/gRPC https://collector:4317" or "OTLP/HTTP http://collector:4318/v1/traces".
  virtual std::string describe() const = 0;
};

// The transport `settings` ask for. Throws std::invalid_argument with one line
// when the endpoint or a certificate file cannot be used.
std::unique_ptr<OtlpTransport> make_otlp_transport(const OtlpSettings& settings);

}  // namespace spanwire
