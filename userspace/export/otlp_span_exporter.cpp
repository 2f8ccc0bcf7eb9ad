#include "export/otlp_span_exporter.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "util/thread_name.h"

namespace spanwire {

namespace otlp = opentelemetry::proto::collector::trace::v1;

OtlpSpanExporter::OtlpSpanExporter(const TransportFactory& make_transport, Options options, Metrics& metrics)
    : options_(options),
      metrics_(metrics),
      queue_(options_.max_queue_size, options_.max_queue_bytes, options_.max_batch_size, options_.batch_timeout) {
  const size_t n = std::max<size_t>(options_.consumers, 1);
  for (size_t i = 0; i < n; ++i)
    consumers_.push_back(std::make_unique<Consumer>(make_transport(), options_.retry, metrics_));
  for (size_t i = 0; i < n; ++i)
    consumers_[i]->thread = std::thread([this, i, consumer = consumers_[i].get()] {
      name_this_thread("sw-export-" + std::to_string(i));
      run_sender(*consumer);
    });
  spdlog::debug("{}: batches of up to {} spans, {} in flight at most, queue of {} spans / {} MiB", describe(),
                options_.max_batch_size, n, options_.max_queue_size, options_.max_queue_bytes >> 20);
}

OtlpSpanExporter::~OtlpSpanExporter() {
  queue_.close();
  for (auto& c : consumers_) c->sender.stop();
  for (auto& c : consumers_) c->thread.join();
  if (const size_t left = queue_.discard_all() + std::exchange(staged_, {}).size(); left > 0) {
    metrics_.spans_dropped_export_failed.fetch_add(left, std::memory_order_relaxed);
    spdlog::warn("{}: stopped with {} spans not sent; they are counted in spans_dropped_export_failed", describe(),
                 left);
  }
  publish_queue_gauges();
}

void OtlpSpanExporter::publish_queue_gauges() {
  metrics_.export_queue_spans.store(queue_.size(), std::memory_order_relaxed);
  metrics_.export_queue_bytes.store(queue_.bytes(), std::memory_order_relaxed);
}

void OtlpSpanExporter::consume(Span span) {
  staged_.push_back(std::move(span));
  if (staged_.size() >= options_.max_batch_size) hand_over_staged();
}

void OtlpSpanExporter::end_of_pass() { hand_over_staged(); }

void OtlpSpanExporter::hand_over_staged() {
  if (staged_.empty()) return;
  const auto pushed = queue_.push_all(staged_);
  metrics_.export_queue_spans.store(pushed.size, std::memory_order_relaxed);
  metrics_.export_queue_bytes.store(pushed.bytes, std::memory_order_relaxed);
  if (pushed.dropped == 0) return;
  metrics_.spans_dropped_queue_full.fetch_add(pushed.dropped, std::memory_order_relaxed);
  if (auto suppressed = queue_full_log_.admit(LogThrottle::Clock::now()))
    spdlog::warn("OTLP export queue is full ({} spans or {} MiB): {} is slower than the traffic or unreachable; "
                 "dropping the oldest spans, counted in spans_dropped_queue_full",
                 options_.max_queue_size, options_.max_queue_bytes >> 20, describe());
}

void OtlpSpanExporter::flush(std::chrono::milliseconds timeout) {
  // A batch waiting out a backoff would hold the flush for the whole timeout:
  // every batch gets one more attempt now, and a failure drops it (counted).
  for (auto& c : consumers_) c->sender.stop_retrying();
  hand_over_staged();
  if (!queue_.wait_flushed(timeout))
    spdlog::warn("{}: flush did not finish within {} ms; {} spans still queued", describe(), timeout.count(),
                 queue_.size());
  publish_queue_gauges();
}

void OtlpSpanExporter::run_sender(Consumer& consumer) {
  while (auto batch = queue_.next_batch()) {
    publish_queue_gauges();
    send(consumer, std::move(batch->spans));
    queue_.batch_done(*batch);
  }
}

void OtlpSpanExporter::send(Consumer& consumer, std::vector<Span> batch) {
  const std::string& request = consumer.encoder.encode(batch);
  otlp::ExportTraceServiceResponse response;
  const size_t n = batch.size();
  batch.clear();  // the request holds their bytes; free the spans while the call and its retries run
  batch.shrink_to_fit();
  switch (consumer.sender.send(Signal::kTraces, request, response, n)) {
    case RetryingSender::Result::kAccepted:
      break;
    case RetryingSender::Result::kGaveUp:
      metrics_.export_batches_failed++;
      metrics_.spans_dropped_export_failed.fetch_add(n, std::memory_order_relaxed);
      return;
    case RetryingSender::Result::kStopped:
      metrics_.spans_dropped_export_failed.fetch_add(n, std::memory_order_relaxed);
      return;
  }
  metrics_.export_batches++;
  const auto& partial = response.partial_success();
  const size_t rejected = std::min(n, static_cast<size_t>(std::max<int64_t>(partial.rejected_spans(), 0)));
  metrics_.spans_exported.fetch_add(n - rejected, std::memory_order_relaxed);
  if (rejected == 0 && partial.error_message().empty()) return;
  // A partial success is not retried (the OTLP specification says so): the
  // collector has decided about these spans.
  metrics_.export_partial_successes++;
  metrics_.spans_rejected_partial.fetch_add(rejected, std::memory_order_relaxed);
  std::lock_guard lock(partial_log_mutex_);
  if (auto suppressed = partial_log_.admit(LogThrottle::Clock::now()))
    spdlog::warn("{} accepted a batch in part: {} of {} spans rejected: {}; counted in spans_rejected_partial{}",
                 describe(), rejected, n,
                 partial.error_message().empty() ? "no reason given" : partial.error_message(),
                 LogThrottle::suppressed_note(*suppressed));
}

}  // namespace spanwire
