// Sends the RED metrics of the traced services to the collector every
// interval (OTEL_METRIC_EXPORT_INTERVAL), from its own thread, through the
// same kind of transport and retry rules as spans. Cumulative temporality:
// a failed export loses nothing, the next one carries the running totals.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "export/otlp_transport.h"
#include "export/retrying_sender.h"
#include "metrics/metrics.h"
#include "metrics/red_metrics.h"

namespace spanwire {

class OtlpMetricsExporter {
 public:
  OtlpMetricsExporter(std::unique_ptr<OtlpTransport> transport, const RedMetrics& red,
                      std::chrono::milliseconds interval, RetrySettings retry, Metrics& metrics);
  // Ends any retry wait, sends one last export in a single attempt (bounded
  // by the transport timeout), then stops.
  ~OtlpMetricsExporter();
  OtlpMetricsExporter(const OtlpMetricsExporter&) = delete;
  OtlpMetricsExporter& operator=(const OtlpMetricsExporter&) = delete;

  const OtlpTransport& transport() const { return *transport_; }

 private:
  void run();
  // `final`: one attempt, no retries (shutdown must not wait for a collector that is down).
  void export_once(bool final);

  std::unique_ptr<OtlpTransport> transport_;
  const RedMetrics& red_;
  const std::chrono::milliseconds interval_;
  Metrics& metrics_;
  RetryingSender sender_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace spanwire
