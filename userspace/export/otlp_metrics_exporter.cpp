#include "export/otlp_metrics_exporter.h"

#include <spdlog/spdlog.h>

#include "export/otlp_metrics_convert.h"
#include "util/thread_name.h"

namespace spanwire {

namespace {
// Retrying one interval's export longer than the interval only delays the
// next, fresher one.
RetrySettings within(RetrySettings retry, std::chrono::milliseconds interval) {
  retry.max_elapsed = std::min(retry.max_elapsed, interval);
  return retry;
}
}  // namespace

OtlpMetricsExporter::OtlpMetricsExporter(std::unique_ptr<OtlpTransport> transport, const RedMetrics& red,
                                         std::chrono::milliseconds interval, RetrySettings retry, Metrics& metrics)
    : transport_(std::move(transport)),
      red_(red),
      interval_(interval),
      metrics_(metrics),
      sender_(*transport_, within(retry, interval), metrics, "metrics"),
      thread_([this] {
        name_this_thread("sw-metrics-otlp");
        run();
      }) {}

OtlpMetricsExporter::~OtlpMetricsExporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  sender_.stop_waiting();
  wake_.notify_all();
  thread_.join();
}

void OtlpMetricsExporter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const bool stop = wake_.wait_for(lock, interval_, [&] { return stopping_; });
    lock.unlock();
    export_once(stop);  // the final one too: the last interval's data
    lock.lock();
    if (stop) return;
  }
}

void OtlpMetricsExporter::export_once(bool final) {
  const auto snapshot = red_.snapshot();
  if (snapshot.series.empty()) return;
  const auto request = to_otlp_metrics(snapshot, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count()));
  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse response;
  size_t count = 0;
  for (const auto& rm : request.resource_metrics())
    for (const auto& sm : rm.scope_metrics()) count += static_cast<size_t>(sm.metrics_size());
  const std::string body = request.SerializeAsString();
  const bool accepted =
      final ? transport_->send(Signal::kMetrics, body, response).outcome == ExportResult::Outcome::kOk
            : sender_.send(Signal::kMetrics, body, response, count) == RetryingSender::Result::kAccepted;
  if (accepted) {
    metrics_.metrics_exports++;
    if (response.partial_success().rejected_data_points() > 0)
      spdlog::warn("{} rejected {} metric data points: {}", transport_->describe(),
                   response.partial_success().rejected_data_points(), response.partial_success().error_message());
  } else {
    metrics_.metrics_exports_failed++;
  }
}

}  // namespace spanwire
