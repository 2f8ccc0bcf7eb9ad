#include "metrics/red_metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <type_traits>

#include "metrics/metrics.h"
#include "util/version.h"

namespace spanwire {
namespace {

// kBoundsSeconds in integer nanoseconds: span durations are integers, so
// bucket placement on a boundary is exact.
constexpr std::array<uint64_t, RedMetrics::kBoundsSeconds.size()> kBoundsNs = {
    0,           5'000'000,     10'000'000,    25'000'000,    50'000'000,
    75'000'000,  100'000'000,   250'000'000,   500'000'000,   750'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 7'500'000'000, 10'000'000'000};

size_t bucket_of(uint64_t duration_ns) {
  // First bound >= duration: buckets include their upper bound.
  return static_cast<size_t>(std::lower_bound(kBoundsNs.begin(), kBoundsNs.end(), duration_ns) - kBoundsNs.begin());
}

template <class Number>
void append_number(std::string& key, Number n) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  key.append(buf, ec == std::errc() ? end : buf);
}

// Appends an unambiguous encoding of one attribute to `key` (strings are
// length-prefixed, so no value can imitate a separator).
void append_attribute(std::string& key, std::string_view name, const AttributeValue& value) {
  key += name;
  key += '=';
  std::visit(
      [&key](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          key += 's';
          append_number(key, v.size());
          key += ':';
          key += v;
        } else if constexpr (std::is_same_v<T, bool>) {
          key += v ? "b1" : "b0";
        } else {
          key += std::is_same_v<T, int64_t> ? 'i' : 'd';
          append_number(key, v);
        }
      },
      value);
  key += ';';
}

void append_key(std::string& key, const std::vector<Attribute>& attributes) {
  for (const auto& a : attributes) append_attribute(key, a.key, a.value);
}

// The attributes semantic conventions put on the duration metrics: the
// span attributes the protocol module names (Semconv::series_keys), the ones
// it derived for the series alone (HTTP: the route inferred from the path, as
// in the span name, since the raw path's cardinality is unbounded), the error
// type, and for clients the server they called.
// Visits them in order, without copying: most spans fall in a series that
// exists, found by the key alone.
template <class Visit>
void for_each_series_attribute(const Span& span, Visit visit) {
  auto take = [&span, &visit](std::string_view key) {
    if (const AttributeValue* v = span.find(key)) visit(key, *v);
  };
  for (std::string_view key : span.semconv->series_keys) take(key);
  for (const Attribute& extra : span.series_extra) {  // a span attribute of the same key wins
    if (span.find(extra.key) == nullptr) visit(extra.key, extra.value);
  }
  take("error.type");
  if (span.kind == SpanKind::kClient) {
    take("server.address");
    take("server.port");
  }
}

std::vector<Attribute> series_attributes(const Span& span) {
  std::vector<Attribute> out;
  for_each_series_attribute(span, [&out](std::string_view key, const AttributeValue& v) { out.push_back({key, v}); });
  return out;
}

std::shared_ptr<const Resource> default_sensor_resource() {
  auto r = std::make_shared<Resource>();
  r->service_name = "spanwire";
  r->attributes = {
      {"service.name", std::string("spanwire")},
      {"telemetry.sdk.name", std::string("spanwire")},
      {"telemetry.sdk.version", std::string(SPANWIRE_VERSION)},
  };
  return r;
}

uint64_t system_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void add(RedMetrics::Series& s, const Span& span) {
  const uint64_t ns = span.end_unix_ns > span.start_unix_ns ? span.end_unix_ns - span.start_unix_ns : 0;
  const double seconds = static_cast<double>(ns) / 1e9;
  s.duration_min_seconds = s.requests == 0 ? seconds : std::min(s.duration_min_seconds, seconds);
  s.duration_max_seconds = s.requests == 0 ? seconds : std::max(s.duration_max_seconds, seconds);
  ++s.requests;
  if (span.status == StatusCode::kError) ++s.errors;
  ++s.bucket_counts[bucket_of(ns)];
  s.duration_sum_seconds += seconds;
}

}  // namespace

RedMetrics::RedMetrics(size_t max_series, Metrics& metrics, std::shared_ptr<const Resource> sensor_resource,
                       WallClock now)
    : max_series_(max_series),
      metrics_(metrics),
      sensor_resource_(sensor_resource ? std::move(sensor_resource) : default_sensor_resource()),
      now_(now ? std::move(now) : WallClock(system_now_ns)) {}

void RedMetrics::record(const Span& span) {
  if (span.kind != SpanKind::kServer && span.kind != SpanKind::kClient) return;  // spanwire makes no others
  if (span.semconv == nullptr) return;  // not an exchange: no duration metric describes it
  std::lock_guard lock(mutex_);
  add(find_or_create(span, span.semconv->family), span);
}

RedMetrics::Series& RedMetrics::find_or_create(const Span& span, Family family) {
  const std::string& resource_key = this->resource_key(span.resource);
  key_.assign(resource_key);
  key_ += '\n';
  key_ += static_cast<char>('0' + static_cast<int>(family));
  key_ += static_cast<char>('0' + static_cast<int>(span.kind));
  for_each_series_attribute(
      span, [this](std::string_view name, const AttributeValue& v) { append_attribute(key_, name, v); });
  if (auto it = index_.find(key_); it != index_.end()) return series_[it->second];

  if (series_.size() >= max_series_) {
    ++metrics_.metrics_series_overflow;
    return overflow_series(family, span.kind);
  }
  auto [resource, inserted] = resources_.try_emplace(resource_key, span.resource);
  Series s;
  s.resource = resource->second;
  s.family = family;
  s.kind = span.kind;
  s.attributes = series_attributes(span);
  s.start_unix_ns = now_();
  index_.emplace(key_, series_.size());
  series_.push_back(std::move(s));
  return series_.back();
}

const std::string& RedMetrics::resource_key(const std::shared_ptr<const Resource>& resource) {
  if (auto it = resource_keys_.find(resource.get()); it != resource_keys_.end()) return it->second.second;
  if (resource_keys_.size() >= kMaxResourceKeys) resource_keys_.clear();
  std::string key;
  if (resource) append_key(key, resource->attributes);
  return resource_keys_.try_emplace(resource.get(), resource, std::move(key)).first->second.second;
}

RedMetrics::Series& RedMetrics::overflow_series(Family family, SpanKind kind) {
  auto& slot = overflow_[static_cast<size_t>(family) * 2 + (kind == SpanKind::kClient ? 1 : 0)];
  if (!slot) {
    slot = std::make_unique<Series>();
    slot->resource = sensor_resource_;
    slot->family = family;
    slot->kind = kind;
    slot->attributes = {{kOverflowAttribute, true}};
    slot->overflow = true;
    slot->start_unix_ns = now_();
  }
  return *slot;
}

RedMetrics::Snapshot RedMetrics::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot out;
  out.series.reserve(series_.size() + overflow_.size());
  out.series = series_;
  for (const auto& o : overflow_)
    if (o) out.series.push_back(*o);
  return out;
}

size_t RedMetrics::series_count() const {
  std::lock_guard lock(mutex_);
  return series_.size();
}

}  // namespace spanwire
