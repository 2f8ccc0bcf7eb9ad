// Sends spans to an OpenTelemetry collector over any OtlpTransport (gRPC or
// HTTP), in batches, from its own thread, so the pipeline never waits for the
// network. Retryable failures are retried with backoff while new spans keep
// queueing; the queue is bounded in count and bytes and drops its oldest
// spans (counted) when the collector is away for long.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "export/exporter.h"
#include "export/log_throttle.h"
#include "export/otlp_trace_encoder.h"
#include "export/otlp_transport.h"
#include "export/retrying_sender.h"
#include "export/span_batch_queue.h"
#include "metrics/metrics.h"

namespace spanwire {

class OtlpSpanExporter final : public SpanExporter {
 public:
  struct Options {
    size_t max_batch_size = 512;
    std::chrono::milliseconds batch_timeout{1000};
    size_t max_queue_size = 8192;
    size_t max_queue_bytes = 64u << 20;
    RetrySettings retry;
  };

  OtlpSpanExporter(std::unique_ptr<OtlpTransport> transport, Options options, Metrics& metrics);
  // Stops at once: cancels a call or retry wait in flight; whatever was not
  // sent is counted as dropped. Call flush() first for a graceful stop.
  ~OtlpSpanExporter() override;
  OtlpSpanExporter(const OtlpSpanExporter&) = delete;
  OtlpSpanExporter& operator=(const OtlpSpanExporter&) = delete;

  void consume(Span span) override;
  void flush(std::chrono::milliseconds timeout) override;

 private:
  void run_sender();
  void send(std::vector<Span> batch);
  void publish_queue_gauges();

  const Options options_;
  Metrics& metrics_;
  std::unique_ptr<OtlpTransport> transport_;
  RetryingSender sender_;
  SpanBatchQueue queue_;
  OtlpTraceEncoder encoder_;  // used by the sender thread only
  LogThrottle queue_full_log_{std::chrono::seconds(30)};
  LogThrottle partial_log_{std::chrono::seconds(30)};
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace spanwire
