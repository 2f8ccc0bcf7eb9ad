// Sends spans to an OpenTelemetry collector over any OtlpTransport (gRPC or
// HTTP), in batches, from its own sender threads, so the pipeline never waits
// for the network. Several batches are in flight at once (Options::consumers,
// like the OpenTelemetry Collector's sending-queue consumers): a collector
// that takes 20 ms per call would otherwise cap export at one batch per 20 ms.
// Each consumer has its own transport, encoder and retries, so a batch in
// backoff never holds up the others. Retryable failures are retried while new
// spans keep queueing; the queue is bounded in count and bytes and drops its
// oldest spans (counted) when the collector is away for long. The spans of
// one pass of the pipeline enter the queue together, at end_of_pass(): one
// lock and one wakeup decision per pass, not per span.
#pragma once

#include <chrono>
#include <functional>
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
    size_t consumers = 4;  // batches in flight at most (at least 1)
  };
  // Makes one transport per consumer (each its own connection).
  using TransportFactory = std::function<std::unique_ptr<OtlpTransport>()>;

  OtlpSpanExporter(const TransportFactory& make_transport, Options options, Metrics& metrics);
  // Stops at once: cancels a call or retry wait in flight; whatever was not
  // sent is counted as dropped. Call flush() first for a graceful stop.
  ~OtlpSpanExporter() override;
  OtlpSpanExporter(const OtlpSpanExporter&) = delete;
  OtlpSpanExporter& operator=(const OtlpSpanExporter&) = delete;

  // Stages the span; it enters the queue at end_of_pass(), flush(), or once
  // a batch's worth is staged.
  void consume(Span span) override;
  void flush(std::chrono::milliseconds timeout) override;
  void end_of_pass() override;

 private:
  // One sender thread and what only it uses.
  struct Consumer {
    Consumer(std::unique_ptr<OtlpTransport> t, const RetrySettings& retry, Metrics& metrics)
        : transport(std::move(t)), sender(*transport, retry, metrics, "spans") {}
    std::unique_ptr<OtlpTransport> transport;
    RetryingSender sender;
    OtlpTraceEncoder encoder;
    std::thread thread;
  };
  void run_sender(Consumer& consumer);
  void send(Consumer& consumer, std::vector<Span> batch);
  void publish_queue_gauges();
  void hand_over_staged();
  std::string describe() const { return consumers_.front()->transport->describe(); }

  const Options options_;
  Metrics& metrics_;
  SpanBatchQueue queue_;
  std::vector<Span> staged_;  // consumed in this pass, not yet queued (pipeline thread only)
  LogThrottle queue_full_log_{std::chrono::seconds(30)};
  LogThrottle partial_log_{std::chrono::seconds(30)};  // shared by the consumers: its own lock
  std::mutex partial_log_mutex_;
  std::vector<std::unique_ptr<Consumer>> consumers_;  // their threads start last
};

}  // namespace spanwire
