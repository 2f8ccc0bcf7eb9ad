#include "metrics/prometheus.h"

#include <limits>
#include <map>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "metrics/metrics.h"

namespace spanwire {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric value_metric(MetricType type, uint64_t value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  (type == MetricType::Counter ? m.counter.value : m.gauge.value) = static_cast<double>(value);
  return m;
}

MetricFamily one_value(std::string name, std::string help, MetricType type, uint64_t value) {
  return MetricFamily{std::move(name), std::move(help), type, {value_metric(type, value)}};
}

MetricFamily export_latency(const LatencyHistogram::Snapshot& h) {
  ClientMetric m;
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += h.counts[i];
    m.histogram.bucket.push_back({cumulative, LatencyHistogram::kBounds[i]});
  }
  m.histogram.bucket.push_back({cumulative + h.counts.back(), std::numeric_limits<double>::infinity()});
  return MetricFamily{"spanwire_export_duration_seconds", "duration of OTLP export calls", MetricType::Histogram,
                      {std::move(m)}};
}

// Each protocol counter name is one family, one series per protocol that
// counts it: spanwire_parse_errors_total{protocol="http1"}.
void add_protocol_counters(std::vector<MetricFamily>& families, const CounterBoard& board) {
  std::map<std::string_view, size_t> family_of;  // counter name -> index in families
  for (const auto& counters : board.all()) {
    for (size_t i = 0; i < counters->specs().size(); ++i) {
      const CounterSpec& spec = counters->specs()[i];
      auto [it, added] = family_of.try_emplace(spec.name, families.size());
      if (added) {
        families.push_back(MetricFamily{"spanwire_" + std::string(spec.name) + "_total", std::string(spec.help),
                                        MetricType::Counter, {}});
      }
      families[it->second].metric.push_back(value_metric(
          MetricType::Counter, counters->value(i), {{"protocol", std::string(counters->protocol())}}));
    }
  }
}

}  // namespace

std::string render_prometheus(const Metrics& m) {
  std::vector<MetricFamily> families;
#define SPANWIRE_PROMETHEUS_COUNTER(name, help)                                                  \
  families.push_back(one_value("spanwire_" #name "_total", help, MetricType::Counter, \
                               m.name.load(std::memory_order_relaxed)));
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_PROMETHEUS_COUNTER)
#undef SPANWIRE_PROMETHEUS_COUNTER
#define SPANWIRE_PROMETHEUS_GAUGE(name, help) \
  families.push_back(one_value("spanwire_" #name, help, MetricType::Gauge, m.name.load(std::memory_order_relaxed)));
  SPANWIRE_GAUGES(SPANWIRE_PROMETHEUS_GAUGE)
#undef SPANWIRE_PROMETHEUS_GAUGE

  add_protocol_counters(families, m.protocols);

  families.push_back(export_latency(m.export_latency.snapshot()));

  MetricFamily failures{"spanwire_export_failures_total", "failed OTLP export attempts by reason", MetricType::Counter,
                        {}};
  for (const auto& [reason, count] : m.export_failures.snapshot())
    failures.metric.push_back(value_metric(MetricType::Counter, count, {{"reason", reason}}));
  families.push_back(std::move(failures));

  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace spanwire
