#include "export/otlp_metrics_convert.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "export/otlp_convert.h"
#include "util/version.h"

namespace spanwire {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
using Family = RedMetrics::Family;

struct Instrument {
  const char* name;
  const char* unit;
  const char* description;
  double unit_per_second;
  const std::array<double, 15>* bounds;
};

const Instrument& duration_instrument(Family family, SpanKind kind) {
  static const Instrument kInstruments[] = {
      {"http.server.request.duration", "s", "Duration of HTTP server requests.", 1, &RedMetrics::kBoundsSeconds},
      {"http.client.request.duration", "s", "Duration of HTTP client requests.", 1, &RedMetrics::kBoundsSeconds},
      {"rpc.server.duration", "ms", "Duration of inbound RPCs.", 1000, &RedMetrics::kBoundsMillis},
      {"rpc.client.duration", "ms", "Duration of outbound RPCs.", 1000, &RedMetrics::kBoundsMillis},
      // The conventions define no metric for the server side of a database.
      {"spanwire.db.server.operation.duration", "s", "Duration of database operations a traced server answered.", 1,
       &RedMetrics::kBoundsSeconds},
      {"db.client.operation.duration", "s", "Duration of database client operations.", 1, &RedMetrics::kBoundsSeconds},
  };
  return kInstruments[static_cast<size_t>(family) * 2 + (kind == SpanKind::kClient ? 1 : 0)];
}

metrics::Metric* new_sum(metrics::ScopeMetrics& scope, const char* name, const char* description) {
  auto* m = scope.add_metrics();
  m->set_name(name);
  m->set_description(description);
  m->set_unit("{request}");
  m->mutable_sum()->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
  m->mutable_sum()->set_is_monotonic(true);
  return m;
}

void fill_histogram_point(const RedMetrics::Series& s, const Instrument& instrument, uint64_t now,
                          metrics::HistogramDataPoint& p) {
  add_otlp_attributes(s.attributes, *p.mutable_attributes());
  p.set_start_time_unix_nano(s.start_unix_ns);
  p.set_time_unix_nano(std::max(now, s.start_unix_ns));
  p.set_count(s.requests);
  p.set_sum(s.duration_sum_seconds * instrument.unit_per_second);
  for (uint64_t c : s.bucket_counts) p.add_bucket_counts(c);
  for (double b : *instrument.bounds) p.add_explicit_bounds(b);
  if (s.requests > 0) {
    p.set_min(s.duration_min_seconds * instrument.unit_per_second);
    p.set_max(s.duration_max_seconds * instrument.unit_per_second);
  }
}

void fill_sum_point(const std::vector<Attribute>& attributes, uint64_t start, uint64_t now, uint64_t value,
                    metrics::NumberDataPoint& p) {
  add_otlp_attributes(attributes, *p.mutable_attributes());
  p.set_start_time_unix_nano(start);
  p.set_time_unix_nano(std::max(now, start));
  p.set_as_int(static_cast<int64_t>(value));
}

// The metrics of one resource's series.
void fill_scope(const std::vector<const RedMetrics::Series*>& series, uint64_t now, metrics::ScopeMetrics& scope) {
  scope.mutable_scope()->set_name(kOtlpScopeName);
  scope.mutable_scope()->set_version(SPANWIRE_VERSION);

  // Duration histograms, in a fixed order.
  for (Family family : {Family::kHttp, Family::kRpc, Family::kDb}) {
    for (SpanKind kind : {SpanKind::kServer, SpanKind::kClient}) {
      metrics::Histogram* histogram = nullptr;
      const Instrument& instrument = duration_instrument(family, kind);
      for (const auto* s : series) {
        if (s->family != family || s->kind != kind) continue;
        if (histogram == nullptr) {
          auto* m = scope.add_metrics();
          m->set_name(instrument.name);
          m->set_unit(instrument.unit);
          m->set_description(instrument.description);
          histogram = m->mutable_histogram();
          histogram->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
        }
        fill_histogram_point(*s, instrument, now, *histogram->add_data_points());
      }
    }
  }

  // The sums: one point per series, except that the overflow series of all
  // kinds fold into a single point carrying only otel.metric.overflow.
  auto* requests = new_sum(scope, "spanwire.requests", "Requests completed, by service and kind.");
  auto* errors = new_sum(scope, "spanwire.errors", "Requests whose span status is error.");
  bool any_overflow = false;
  uint64_t overflow_start = UINT64_MAX, overflow_requests = 0, overflow_errors = 0;
  for (const auto* s : series) {
    if (s->overflow) {
      any_overflow = true;
      overflow_start = std::min(overflow_start, s->start_unix_ns);
      overflow_requests += s->requests;
      overflow_errors += s->errors;
      continue;
    }
    std::vector<Attribute> attributes = s->attributes;
    attributes.push_back({"span.kind", std::string(s->kind == SpanKind::kClient ? "client" : "server")});
    fill_sum_point(attributes, s->start_unix_ns, now, s->requests, *requests->mutable_sum()->add_data_points());
    fill_sum_point(attributes, s->start_unix_ns, now, s->errors, *errors->mutable_sum()->add_data_points());
  }
  if (any_overflow) {
    const std::vector<Attribute> overflow = {{kOverflowAttribute, true}};
    fill_sum_point(overflow, overflow_start, now, overflow_requests, *requests->mutable_sum()->add_data_points());
    fill_sum_point(overflow, overflow_start, now, overflow_errors, *errors->mutable_sum()->add_data_points());
  }
}

}  // namespace

opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest to_otlp_metrics(
    const RedMetrics::Snapshot& snapshot, uint64_t now_unix_ns) {
  // Group by resource, in order of first appearance.
  std::vector<const Resource*> order;
  std::unordered_map<const Resource*, std::vector<const RedMetrics::Series*>> groups;
  for (const auto& s : snapshot.series) {
    auto [it, inserted] = groups.try_emplace(s.resource.get());
    if (inserted) order.push_back(s.resource.get());
    it->second.push_back(&s);
  }

  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest request;
  for (const Resource* resource : order) {
    auto* rm = request.add_resource_metrics();
    if (resource != nullptr) add_otlp_attributes(resource->attributes, *rm->mutable_resource()->mutable_attributes());
    fill_scope(groups[resource], now_unix_ns, *rm->add_scope_metrics());
  }
  return request;
}

}  // namespace spanwire
