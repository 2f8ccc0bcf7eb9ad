// RED metrics (rate, errors, duration) of the traced services, aggregated
// from finished spans and exported as OTLP metrics (export/otlp_metrics_convert.h).
// Every span counts, sampled or not: RedMetricsTap sits before the sampler.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "span/span_consumer.h"
#include "span/span.h"

namespace spanwire {

class Metrics;

// The attribute that marks the series data folds into beyond the cardinality
// limit (OpenTelemetry metrics SDK convention).
inline constexpr std::string_view kOverflowAttribute = "otel.metric.overflow";

class RedMetrics {
 public:
  // Semantic conventions' advice for HTTP request durations, in seconds;
  // bucket i counts durations in (bound[i-1], bound[i]] (upper-inclusive),
  // the last one everything above 10 s.
  static constexpr std::array<double, 15> kBoundsSeconds = {0,    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                                            0.5,  0.75,  1,    2.5,   5,    7.5,   10};
  // The same boundaries in milliseconds, the unit of rpc.*.duration.
  static constexpr std::array<double, 15> kBoundsMillis = {0,   5,   10,   25,   50,   75,   100, 250,
                                                           500, 750, 1000, 2500, 5000, 7500, 10000};
  static constexpr size_t kBuckets = kBoundsSeconds.size() + 1;

  using Family = MetricFamily;  // from the span's protocol module (Span::semconv)

  // One series: the requests of one service with one set of attributes.
  struct Series {
    std::shared_ptr<const Resource> resource;
    Family family = Family::kHttp;
    SpanKind kind = SpanKind::kServer;
    // The semantic-convention attributes of the duration metric (span.kind is
    // added for the spanwire.* sums); for the overflow series only
    // otel.metric.overflow=true.
    std::vector<Attribute> attributes;
    bool overflow = false;
    uint64_t start_unix_ns = 0;  // when the series was created
    uint64_t requests = 0;
    uint64_t errors = 0;
    std::array<uint64_t, kBuckets> bucket_counts{};  // per bucket, not cumulative
    double duration_sum_seconds = 0;
    double duration_min_seconds = 0;
    double duration_max_seconds = 0;
  };

  struct Snapshot {
    // Regular series in the order they were created, then the overflow series.
    std::vector<Series> series;
  };

  using WallClock = std::function<uint64_t()>;  // now, Unix ns

  // `max_series` bounds the regular series; data beyond folds into one
  // overflow series per duration metric, reported under `sensor_resource`
  // (the sensor's own resource: overflowing data belongs to no single
  // service). Null: a resource naming spanwire.
  RedMetrics(size_t max_series, Metrics& metrics, std::shared_ptr<const Resource> sensor_resource = nullptr,
             WallClock now = nullptr);

  // Counts one finished span. Thread-safe.
  void record(const Span& span);
  // Copies the running totals (cumulative since each series' start). Thread-safe.
  Snapshot snapshot() const;
  size_t series_count() const;

 private:
  Series& find_or_create(const Span& span, Family family);
  const std::string& resource_key(const std::shared_ptr<const Resource>& resource);
  Series& overflow_series(Family family, SpanKind kind);

  const size_t max_series_;
  Metrics& metrics_;
  std::shared_ptr<const Resource> sensor_resource_;
  WallClock now_;

  mutable std::mutex mutex_;
  std::vector<Series> series_;
  std::unordered_map<std::string, size_t> index_;  // series key -> position in series_
  std::string key_;  // the series key being looked up, reused: no allocation per span
  // One Resource per distinct set of resource attributes, so that processes
  // with equal resources share their series and their ResourceMetrics.
  std::unordered_map<std::string, std::shared_ptr<const Resource>> resources_;
  std::array<std::unique_ptr<Series>, kMetricFamilies * 2> overflow_;  // by family and kind
  // Resource (by address) -> its key. Encoding a resource's attributes for
  // every span cost more than the rest of record(); resources are immutable,
  // and holding each one keeps its address from being reused by another.
  // Cleared when it outgrows kMaxResourceKeys (processes come and go).
  static constexpr size_t kMaxResourceKeys = 1024;
  std::unordered_map<const Resource*, std::pair<std::shared_ptr<const Resource>, std::string>> resource_keys_;
};

// Counts every span into a RedMetrics, then hands it on unchanged.
class RedMetricsTap final : public SpanProcessor {
 public:
  RedMetricsTap(RedMetrics& red, SpanConsumer& next) : SpanProcessor(next), red_(red) {}
  void consume(Span span) override {
    red_.record(span);
    next_.consume(std::move(span));
  }

 private:
  RedMetrics& red_;
};

}  // namespace spanwire
