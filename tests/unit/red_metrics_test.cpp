#include "metrics/red_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "export/otlp_metrics_convert.h"
#include "grpc/layer.h"
#include "http/route.h"
#include "http/semconv.h"
#include "metrics/metrics.h"

namespace spanwire {
namespace {

namespace pb = opentelemetry::proto::metrics::v1;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kStart = 1'700'000'000'000'000'000ULL;

std::shared_ptr<const Resource> resource(const std::string& service, int64_t pid = 42) {
  auto r = std::make_shared<Resource>();
  r->service_name = service;
  r->pid = static_cast<uint32_t>(pid);
  r->attributes = {{"service.name", service}, {"process.pid", pid}};
  return r;
}

Span http_span(std::shared_ptr<const Resource> res, SpanKind kind, int64_t status, uint64_t duration_ns,
               const std::string& path = "/users/1") {
  Span s;
  s.kind = kind;
  s.resource = std::move(res);
  s.start_unix_ns = kStart;
  s.end_unix_ns = kStart + duration_ns;
  s.attributes = {{"http.request.method", std::string("GET")},
                  {"url.path", path},
                  {"url.scheme", std::string("http")},
                  {"server.address", std::string("api.local")},
                  {"server.port", int64_t{8080}},
                  {"network.peer.port", int64_t{40000 + static_cast<int64_t>(duration_ns % 1000)}},
                  {"http.response.status_code", status}};
  if (status >= 500) {
    s.status = StatusCode::kError;
    s.attributes.emplace_back("error.type", std::to_string(status));
  }
  s.semconv = &http::kSemconv;
  s.series_extra = {{"http.route", route_of(path)}};
  return s;
}

Span grpc_span(std::shared_ptr<const Resource> res, SpanKind kind, int64_t code, uint64_t duration_ns) {
  Span s;
  s.kind = kind;
  s.resource = std::move(res);
  s.start_unix_ns = kStart;
  s.end_unix_ns = kStart + duration_ns;
  s.attributes = {{"rpc.system", std::string("grpc")},
                  {"rpc.service", std::string("shop.Cart")},
                  {"rpc.method", std::string("Add")},
                  {"server.address", std::string("cart")},
                  {"server.port", int64_t{50051}},
                  {"rpc.grpc.status_code", code}};
  s.semconv = &grpc::kSemconv;
  return s;
}

const AttributeValue* find(const std::vector<Attribute>& attributes, std::string_view key) {
  for (const auto& a : attributes)
    if (a.key == key) return &a.value;
  return nullptr;
}

RedMetrics::WallClock fixed_clock(uint64_t t) {
  return [t] { return t; };
}

TEST(RedMetricsTest, EqualAttributesShareASeries) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  auto res = resource("shop");
  red.record(http_span(res, SpanKind::kServer, 200, 3 * kMs, "/users/1"));
  red.record(http_span(res, SpanKind::kServer, 200, 4 * kMs, "/users/2"));  // the path is not part of the key
  // Another process object with the same resource attributes: same series.
  red.record(http_span(resource("shop"), SpanKind::kServer, 200, 5 * kMs, "/users/3"));
  ASSERT_EQ(red.series_count(), 1u);
  const auto snap = red.snapshot();
  ASSERT_EQ(snap.series.size(), 1u);
  const auto& s = snap.series[0];
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.resource, res);
  EXPECT_EQ(s.family, RedMetrics::Family::kHttp);
  EXPECT_EQ(s.kind, SpanKind::kServer);
  EXPECT_FALSE(s.overflow);
  // Only the semantic-convention attributes; no path but the route inferred from it, no peer port.
  EXPECT_EQ(std::get<std::string>(*find(s.attributes, "http.request.method")), "GET");
  EXPECT_EQ(std::get<int64_t>(*find(s.attributes, "http.response.status_code")), 200);
  EXPECT_EQ(std::get<std::string>(*find(s.attributes, "url.scheme")), "http");
  EXPECT_EQ(find(s.attributes, "url.path"), nullptr);
  EXPECT_EQ(std::get<std::string>(*find(s.attributes, "http.route")), "/users/{id}");
  EXPECT_EQ(find(s.attributes, "network.peer.port"), nullptr);
  EXPECT_EQ(find(s.attributes, "server.address"), nullptr);  // servers do not name themselves
}

TEST(RedMetricsTest, ManyShortLivedResourcesKeepTheirOwnSeries) {
  // More resources than the resource-key cache holds (it is cleared when
  // full, and each resource it holds is kept alive): every process still
  // lands in its own series, and a returning one in the one it had.
  Metrics metrics;
  RedMetrics red(5000, metrics);
  for (int pid = 1; pid <= 1500; ++pid)
    red.record(http_span(resource("svc" + std::to_string(pid), pid), SpanKind::kServer, 200, kMs));
  red.record(http_span(resource("svc7", 7), SpanKind::kServer, 200, kMs));
  ASSERT_EQ(red.series_count(), 1500u);
  const auto snap = red.snapshot();
  EXPECT_EQ(snap.series[6].resource->service_name, "svc7");
  EXPECT_EQ(snap.series[6].requests, 2u);
  EXPECT_EQ(snap.series[1499].requests, 1u);
}

TEST(RedMetricsTest, KeyDimensionsSplitSeries) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  auto shop = resource("shop");
  red.record(http_span(shop, SpanKind::kServer, 200, kMs));
  red.record(http_span(shop, SpanKind::kServer, 404, kMs));          // status
  red.record(http_span(shop, SpanKind::kClient, 200, kMs));          // kind
  red.record(http_span(resource("cart"), SpanKind::kServer, 200, kMs));  // service
  Span routed = http_span(shop, SpanKind::kServer, 200, kMs);
  routed.attributes.push_back({"http.route", std::string("/orders/{order}")});  // wins over the inferred one
  red.record(routed);                                                // route
  red.record(grpc_span(shop, SpanKind::kServer, 0, kMs));            // family
  EXPECT_EQ(red.series_count(), 6u);
  const auto snap = red.snapshot();
  EXPECT_EQ(std::get<std::string>(*find(snap.series[4].attributes, "http.route")), "/orders/{order}");
  // A client says which server it called.
  EXPECT_EQ(std::get<std::string>(*find(snap.series[2].attributes, "server.address")), "api.local");
  EXPECT_EQ(std::get<int64_t>(*find(snap.series[2].attributes, "server.port")), 8080);
}

TEST(RedMetricsTest, GrpcSeriesCarryRpcAttributes) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  red.record(grpc_span(resource("cart"), SpanKind::kServer, 14, 2 * kMs));
  const auto snap = red.snapshot();
  ASSERT_EQ(snap.series.size(), 1u);
  const auto& s = snap.series[0];
  EXPECT_EQ(s.family, RedMetrics::Family::kRpc);
  EXPECT_EQ(std::get<std::string>(*find(s.attributes, "rpc.system")), "grpc");
  EXPECT_EQ(std::get<std::string>(*find(s.attributes, "rpc.service")), "shop.Cart");
  EXPECT_EQ(std::get<std::string>(*find(s.attributes, "rpc.method")), "Add");
  EXPECT_EQ(std::get<int64_t>(*find(s.attributes, "rpc.grpc.status_code")), 14);
  EXPECT_EQ(find(s.attributes, "http.request.method"), nullptr);
}

TEST(RedMetricsTest, ErrorsFollowSpanStatus) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  auto res = resource("shop");
  Span a = grpc_span(res, SpanKind::kClient, 0, kMs);
  Span b = a;
  b.status = StatusCode::kError;
  Span c = a;
  c.status = StatusCode::kOk;
  red.record(a);
  red.record(b);
  red.record(c);
  const auto snap = red.snapshot();
  ASSERT_EQ(snap.series.size(), 1u);
  EXPECT_EQ(snap.series[0].requests, 3u);
  EXPECT_EQ(snap.series[0].errors, 1u);
}

TEST(RedMetricsTest, BucketsIncludeTheirUpperBound) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  auto res = resource("shop");
  for (uint64_t ns : {uint64_t{0}, 5 * kMs, 5 * kMs + 1, 10'000 * kMs, 10'000 * kMs + 1, 75 * kMs})
    red.record(http_span(res, SpanKind::kServer, 200, ns));
  const auto s = red.snapshot().series.at(0);
  std::array<uint64_t, RedMetrics::kBuckets> expected{};
  expected[0] = 1;   // 0 s: (-inf, 0]
  expected[1] = 1;   // exactly 5 ms: (0, 0.005]
  expected[2] = 1;   // just above 5 ms: (0.005, 0.01]
  expected[5] = 1;   // 75 ms: (0.05, 0.075]
  expected[14] = 1;  // exactly 10 s: (7.5, 10]
  expected[15] = 1;  // above 10 s: (10, +inf)
  EXPECT_EQ(s.bucket_counts, expected);
  EXPECT_EQ(s.requests, 6u);
  EXPECT_DOUBLE_EQ(s.duration_min_seconds, 0);
  EXPECT_DOUBLE_EQ(s.duration_max_seconds, 10.000000001);
  EXPECT_NEAR(s.duration_sum_seconds, 0 + 0.005 + 0.005000001 + 10 + 10.000000001 + 0.075, 1e-9);
}

TEST(RedMetricsTest, SeriesBeyondTheLimitFoldIntoOverflow) {
  Metrics metrics;
  auto sensor = resource("spanwire-sensor");
  RedMetrics red(2, metrics, sensor, fixed_clock(777));
  auto res = resource("shop");
  red.record(http_span(res, SpanKind::kServer, 200, kMs));
  red.record(http_span(res, SpanKind::kServer, 201, kMs));
  red.record(http_span(res, SpanKind::kServer, 500, kMs));  // third series: overflow
  red.record(http_span(res, SpanKind::kServer, 503, kMs));  // fourth: overflow too
  red.record(grpc_span(res, SpanKind::kClient, 0, kMs));     // another metric's overflow
  red.record(http_span(res, SpanKind::kServer, 200, kMs));  // existing series still counts normally
  EXPECT_EQ(red.series_count(), 2u);
  EXPECT_EQ(metrics.metrics_series_overflow.load(), 3u);

  const auto snap = red.snapshot();
  ASSERT_EQ(snap.series.size(), 4u);
  EXPECT_EQ(snap.series[0].requests, 2u);
  const auto& http_overflow = snap.series[2];
  EXPECT_TRUE(http_overflow.overflow);
  EXPECT_EQ(http_overflow.resource, sensor);
  EXPECT_EQ(http_overflow.family, RedMetrics::Family::kHttp);
  EXPECT_EQ(http_overflow.requests, 2u);
  EXPECT_EQ(http_overflow.errors, 2u);
  EXPECT_EQ(http_overflow.start_unix_ns, 777u);
  ASSERT_EQ(http_overflow.attributes.size(), 1u);
  EXPECT_EQ(http_overflow.attributes[0].key, "otel.metric.overflow");
  EXPECT_EQ(std::get<bool>(http_overflow.attributes[0].value), true);
  EXPECT_EQ(snap.series[3].family, RedMetrics::Family::kRpc);
  EXPECT_EQ(snap.series[3].kind, SpanKind::kClient);
  EXPECT_EQ(snap.series[3].requests, 1u);
}

struct Recorder final : SpanConsumer {
  std::vector<Span> spans;
  int flushes = 0;
  void consume(Span span) override { spans.push_back(std::move(span)); }
  void flush(std::chrono::milliseconds) override { ++flushes; }
};

TEST(RedMetricsTest, TapCountsAndPassesSpansOnUnchanged) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  Recorder next;
  RedMetricsTap tap(red, next);
  Span span = http_span(resource("shop"), SpanKind::kServer, 200, kMs);
  span.name = "GET /users/{id}";
  tap.consume(span);
  tap.flush(std::chrono::milliseconds(10));
  ASSERT_EQ(next.spans.size(), 1u);
  EXPECT_EQ(next.spans[0].name, "GET /users/{id}");
  EXPECT_EQ(next.spans[0].attributes.size(), span.attributes.size());
  EXPECT_EQ(next.flushes, 1);
  EXPECT_EQ(red.snapshot().series.at(0).requests, 1u);
}

// --- OTLP conversion ---

const pb::Metric* metric(const pb::ScopeMetrics& scope, const std::string& name) {
  for (const auto& m : scope.metrics())
    if (m.name() == name) return &m;
  return nullptr;
}

std::string string_attr(const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& kvs,
                        const std::string& key) {
  for (const auto& kv : kvs)
    if (kv.key() == key) return kv.value().string_value();
  return "<absent>";
}

const opentelemetry::proto::common::v1::AnyValue* attr(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& kvs,
    const std::string& key) {
  for (const auto& kv : kvs)
    if (kv.key() == key) return &kv.value();
  return nullptr;
}

TEST(OtlpMetricsConvertTest, RequestStructure) {
  Metrics metrics;
  RedMetrics red(100, metrics, nullptr, fixed_clock(1000));
  auto shop = resource("shop");
  red.record(http_span(shop, SpanKind::kServer, 200, 15 * kMs));
  red.record(http_span(shop, SpanKind::kServer, 200, 25 * kMs));
  red.record(http_span(shop, SpanKind::kClient, 503, 30 * kMs));
  red.record(grpc_span(shop, SpanKind::kServer, 0, 20 * kMs));
  const auto request = to_otlp_metrics(red.snapshot(), 5000);

  ASSERT_EQ(request.resource_metrics_size(), 1);
  const auto& rm = request.resource_metrics(0);
  EXPECT_EQ(string_attr(rm.resource().attributes(), "service.name"), "shop");
  EXPECT_EQ(attr(rm.resource().attributes(), "process.pid")->int_value(), 42);
  ASSERT_EQ(rm.scope_metrics_size(), 1);
  const auto& scope = rm.scope_metrics(0);
  EXPECT_EQ(scope.scope().name(), "spanwire");
  EXPECT_EQ(scope.scope().version(), SPANWIRE_VERSION);

  std::vector<std::string> names;
  for (const auto& m : scope.metrics()) names.push_back(m.name());
  EXPECT_EQ(names, (std::vector<std::string>{"http.server.request.duration", "http.client.request.duration",
                                             "rpc.server.duration", "spanwire.requests", "spanwire.errors"}));

  const pb::Metric* server = metric(scope, "http.server.request.duration");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->unit(), "s");
  ASSERT_TRUE(server->has_histogram());
  EXPECT_EQ(server->histogram().aggregation_temporality(), pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  ASSERT_EQ(server->histogram().data_points_size(), 1);
  const auto& p = server->histogram().data_points(0);
  EXPECT_EQ(p.start_time_unix_nano(), 1000u);
  EXPECT_EQ(p.time_unix_nano(), 5000u);
  EXPECT_EQ(p.count(), 2u);
  EXPECT_NEAR(p.sum(), 0.040, 1e-12);
  EXPECT_NEAR(p.min(), 0.015, 1e-12);
  EXPECT_NEAR(p.max(), 0.025, 1e-12);
  ASSERT_EQ(p.explicit_bounds_size(), 15);
  EXPECT_EQ(p.explicit_bounds(0), 0);
  EXPECT_EQ(p.explicit_bounds(1), 0.005);
  EXPECT_EQ(p.explicit_bounds(14), 10);
  ASSERT_EQ(p.bucket_counts_size(), 16);
  // 15 ms, and 25 ms on the bound itself, both in (0.01, 0.025].
  EXPECT_EQ(p.bucket_counts(3), 2u);
  EXPECT_EQ(p.bucket_counts(4), 0u);
  EXPECT_EQ(string_attr(p.attributes(), "http.request.method"), "GET");
  EXPECT_EQ(attr(p.attributes(), "http.response.status_code")->int_value(), 200);
  EXPECT_EQ(attr(p.attributes(), "span.kind"), nullptr);  // the name says it

  const pb::Metric* rpc = metric(scope, "rpc.server.duration");
  ASSERT_NE(rpc, nullptr);
  EXPECT_EQ(rpc->unit(), "ms");
  const auto& rp = rpc->histogram().data_points(0);
  EXPECT_EQ(rp.explicit_bounds(1), 5);
  EXPECT_EQ(rp.explicit_bounds(14), 10000);
  EXPECT_NEAR(rp.sum(), 20, 1e-9);
  EXPECT_EQ(rp.bucket_counts(3), 1u);  // 20 ms in (10, 25]
  EXPECT_EQ(string_attr(rp.attributes(), "rpc.system"), "grpc");

  const pb::Metric* requests = metric(scope, "spanwire.requests");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->unit(), "{request}");
  ASSERT_TRUE(requests->has_sum());
  EXPECT_TRUE(requests->sum().is_monotonic());
  EXPECT_EQ(requests->sum().aggregation_temporality(), pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  ASSERT_EQ(requests->sum().data_points_size(), 3);
  const auto& first = requests->sum().data_points(0);
  EXPECT_EQ(first.as_int(), 2);
  EXPECT_EQ(first.start_time_unix_nano(), 1000u);
  EXPECT_EQ(first.time_unix_nano(), 5000u);
  EXPECT_EQ(string_attr(first.attributes(), "span.kind"), "server");
  EXPECT_EQ(string_attr(first.attributes(), "http.request.method"), "GET");
  EXPECT_EQ(string_attr(requests->sum().data_points(1).attributes(), "span.kind"), "client");

  const pb::Metric* errors = metric(scope, "spanwire.errors");
  ASSERT_NE(errors, nullptr);
  EXPECT_TRUE(errors->sum().is_monotonic());
  ASSERT_EQ(errors->sum().data_points_size(), 3);
  EXPECT_EQ(errors->sum().data_points(0).as_int(), 0);
  EXPECT_EQ(errors->sum().data_points(1).as_int(), 1);
  EXPECT_EQ(string_attr(errors->sum().data_points(1).attributes(), "error.type"), "503");

  // What goes on the wire reads back the same.
  std::string wire;
  ASSERT_TRUE(request.SerializeToString(&wire));
  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.SerializeAsString(), wire);
}

TEST(OtlpMetricsConvertTest, OverflowUnderTheSensorResource) {
  Metrics metrics;
  RedMetrics red(1, metrics, nullptr, fixed_clock(1000));
  auto shop = resource("shop");
  red.record(http_span(shop, SpanKind::kServer, 200, kMs));
  red.record(http_span(shop, SpanKind::kServer, 500, kMs));
  red.record(grpc_span(shop, SpanKind::kServer, 0, kMs));
  const auto request = to_otlp_metrics(red.snapshot(), 2000);
  ASSERT_EQ(request.resource_metrics_size(), 2);
  const auto& sensor = request.resource_metrics(1);
  EXPECT_EQ(string_attr(sensor.resource().attributes(), "service.name"), "spanwire");
  const auto& scope = sensor.scope_metrics(0);
  const pb::Metric* http = metric(scope, "http.server.request.duration");
  ASSERT_NE(http, nullptr);
  ASSERT_EQ(http->histogram().data_points_size(), 1);
  const auto& hp = http->histogram().data_points(0);
  ASSERT_EQ(hp.attributes_size(), 1);
  EXPECT_EQ(hp.attributes(0).key(), "otel.metric.overflow");
  EXPECT_TRUE(hp.attributes(0).value().bool_value());
  EXPECT_NE(metric(scope, "rpc.server.duration"), nullptr);
  // One overflow point per sum, whatever the kinds folded into it; no span.kind.
  const pb::Metric* requests = metric(scope, "spanwire.requests");
  ASSERT_NE(requests, nullptr);
  ASSERT_EQ(requests->sum().data_points_size(), 1);
  const auto& rp = requests->sum().data_points(0);
  EXPECT_EQ(rp.as_int(), 2);
  ASSERT_EQ(rp.attributes_size(), 1);
  EXPECT_EQ(rp.attributes(0).key(), "otel.metric.overflow");
  EXPECT_EQ(metric(scope, "spanwire.errors")->sum().data_points(0).as_int(), 1);
}

TEST(OtlpMetricsConvertTest, InvalidUtf8FromTrafficIsRepaired) {
  Metrics metrics;
  RedMetrics red(100, metrics);
  Span span = http_span(resource("shop"), SpanKind::kClient, 200, kMs);
  for (auto& a : span.attributes)
    if (a.key == "server.address") a.value = std::string("bad\xff" "host");
  red.record(span);
  const auto request = to_otlp_metrics(red.snapshot(), kStart);
  const auto& point = request.resource_metrics(0).scope_metrics(0).metrics(0).histogram().data_points(0);
  EXPECT_EQ(string_attr(point.attributes(), "server.address"), "bad\xEF\xBF\xBDhost");
}

TEST(OtlpMetricsConvertTest, EmptySnapshotGivesAnEmptyRequest) {
  EXPECT_EQ(to_otlp_metrics(RedMetrics::Snapshot{}, kStart).resource_metrics_size(), 0);
}

}  // namespace
}  // namespace spanwire
