// The direct encoder must produce exactly the bytes protobuf produces for the
// message tree to_otlp_request builds: same fields, order, defaults, repair.
#include "export/otlp_trace_encoder.h"

#include <gtest/gtest.h>

#include <limits>

#include "export/otlp_convert.h"

namespace spanwire {
namespace {

std::shared_ptr<const Resource> resource(const std::string& name, std::vector<Attribute> extra = {}) {
  auto r = std::make_shared<Resource>();
  r->attributes = {{"service.name", name}, {"process.pid", int64_t{42}}};
  for (auto& a : extra) r->attributes.push_back(std::move(a));
  return r;
}

Span span(std::shared_ptr<const Resource> res, uint8_t id) {
  Span s;
  s.trace_id.fill(static_cast<uint8_t>(0xa0 + id));
  s.span_id.fill(id);
  s.name = "GET /users/{id}";
  s.kind = SpanKind::kServer;
  s.start_unix_ns = 1'700'000'000'000'000'000ULL + id;
  s.end_unix_ns = s.start_unix_ns + 1'234'567;
  s.resource = std::move(res);
  s.attributes = {{"http.request.method", std::string("GET")},
                  {"url.path", std::string("/users/12345")},
                  {"http.response.status_code", int64_t{200}},
                  {"server.port", int64_t{8080}}};
  return s;
}

void expect_same_bytes(const std::vector<Span>& spans) {
  OtlpTraceEncoder encoder;
  const std::string expected = to_otlp_request(spans).SerializeAsString();
  EXPECT_EQ(encoder.encode(spans), expected);
  // Scratch buffers reused: a second batch encodes the same.
  EXPECT_EQ(encoder.encode(spans), expected);
}

TEST(OtlpTraceEncoder, PlainServerSpanMatchesProtobuf) { expect_same_bytes({span(resource("shop"), 1)}); }

TEST(OtlpTraceEncoder, EmptyBatchIsAnEmptyRequest) {
  OtlpTraceEncoder encoder;
  EXPECT_EQ(encoder.encode({}), "");
}

TEST(OtlpTraceEncoder, ParentStateStatusFlagsAndKindsMatchProtobuf) {
  auto res = resource("shop");
  Span child = span(res, 2);
  child.parent_span_id.fill(7);
  child.trace_state = "congo=t61rcWkgMzE";
  child.kind = SpanKind::kClient;
  child.status = StatusCode::kError;
  child.status_message = "HTTP 503";
  Span unsampled = span(res, 3);
  unsampled.flags = 0;
  unsampled.kind = SpanKind::kUnspecified;
  unsampled.name.clear();
  unsampled.start_unix_ns = 0;
  unsampled.end_unix_ns = 0;
  unsampled.attributes.clear();
  Span internal = span(res, 4);
  internal.kind = SpanKind::kInternal;
  internal.status = StatusCode::kOk;
  internal.flags = 0x301;  // sampled, with W3C-context bits
  expect_same_bytes({span(res, 1), child, unsampled, internal});
}

TEST(OtlpTraceEncoder, EveryAttributeTypeAndEdgeValueMatchesProtobuf) {
  Span s = span(resource("shop"), 1);
  s.attributes = {{"empty", std::string()},
                  {"negative", int64_t{-1}},
                  {"min", std::numeric_limits<int64_t>::min()},
                  {"zero", int64_t{0}},
                  {"false", false},
                  {"true", true},
                  {"double.zero", 0.0},
                  {"double", -2.5e300},
                  {"long", std::string(300, 'x')},
                  {"utf8", std::string("caf\xc3\xa9 \xe2\x82\xac")}};
  expect_same_bytes({s});
}

TEST(OtlpTraceEncoder, InvalidUtf8IsRepairedAsTheMessageBuilderDoes) {
  Span s = span(resource("shop\xff"), 1);
  s.name = "GET /caf\xc3\xa9\xff";
  s.trace_state = "k=\x80";
  s.status_message = "bad \xed\xa0\x80 surrogate";
  s.attributes = {{"url.path", std::string("/a\xc3(\xed\xa0\x80z")}};
  expect_same_bytes({s});
}

TEST(OtlpTraceEncoder, ResourcesGroupInFirstSeenOrderAndNullResourceHasNone) {
  auto a = resource("a");
  auto b = resource("b", {{"k8s.pod.name", std::string("b-7d9f")}});
  auto empty = std::make_shared<Resource>();
  expect_same_bytes({span(b, 1), span(a, 2), span(nullptr, 3), span(b, 4), span(empty, 5), span(a, 6)});
}

// Nested messages are written in place with room left for their length: every
// length size, from messages shorter than that room to ones longer than it
// (a 20 KiB attribute; a request over 2 MiB), gives protobuf's bytes.
TEST(OtlpTraceEncoder, MessagesOfEveryLengthSizeMatchProtobuf) {
  auto tiny = std::make_shared<Resource>();
  tiny->attributes = {{"a", std::string("b")}};
  Span huge = span(tiny, 1);
  huge.attributes.push_back({"url.full", std::string(20'000, 'u')});
  Span bare;
  bare.resource = tiny;
  expect_same_bytes({huge, bare, span(tiny, 2)});
  std::vector<Span> many;
  for (int i = 0; i < 3000; ++i) {
    Span s = span(tiny, static_cast<uint8_t>(i));
    s.attributes.push_back({"user_agent.original", std::string(700, 'x')});
    many.push_back(std::move(s));
  }
  expect_same_bytes(many);
}

// One encoder, batches of alternating size: the buffer left by a large batch
// never leaks bytes into a smaller one, and a smaller one's never limits a larger.
TEST(OtlpTraceEncoder, ReusedEncoderGivesEachBatchItsOwnBytes) {
  auto res = resource("shop");
  std::vector<Span> large;
  for (int i = 0; i < 600; ++i) large.push_back(span(res, static_cast<uint8_t>(i)));
  std::vector<Span> small = {span(res, 7)};
  OtlpTraceEncoder encoder;
  for (const auto* batch : {&large, &small, &large, &small}) {
    const std::string expected = to_otlp_request(*batch).SerializeAsString();
    EXPECT_EQ(encoder.encode(*batch), expected) << batch->size();
  }
}

}  // namespace
}  // namespace spanwire
