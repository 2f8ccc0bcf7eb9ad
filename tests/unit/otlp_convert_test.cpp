#include "export/otlp_convert.h"

#include <gtest/gtest.h>

#ifndef SPANWIRE_VERSION
#define SPANWIRE_VERSION "dev"
#endif

namespace spanwire {
namespace {

namespace trace = opentelemetry::proto::trace::v1;
namespace common = opentelemetry::proto::common::v1;

std::shared_ptr<const Resource> make_resource(uint32_t pid, const std::string& comm) {
  auto r = std::make_shared<Resource>();
  r->pid = pid;
  r->comm = comm;
  r->service_name = comm;
  r->attributes = {{"service.name", comm}, {"process.pid", int64_t{pid}}};
  return r;
}

Span make_span(std::shared_ptr<const Resource> resource, const std::string& name, uint8_t id) {
  Span s;
  s.trace_id.fill(0xab);
  s.span_id.fill(id);
  s.name = name;
  s.kind = SpanKind::kServer;
  s.start_unix_ns = 1'000;
  s.end_unix_ns = 2'000;
  s.resource = std::move(resource);
  return s;
}

std::string bytes_of(const auto& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); }

const common::KeyValue* find(const google::protobuf::RepeatedPtrField<common::KeyValue>& kvs, const std::string& key) {
  for (const auto& kv : kvs)
    if (kv.key() == key) return &kv;
  return nullptr;
}

TEST(OtlpConvert, GroupsSpansByResourceInFirstSeenOrder) {
  const auto a = make_resource(1, "alpha");
  const auto b = make_resource(2, "beta");
  const auto req = to_otlp_request({make_span(b, "b1", 1), make_span(a, "a1", 2), make_span(b, "b2", 3),
                                    make_span(a, "a2", 4), make_span(nullptr, "none", 5)});

  ASSERT_EQ(req.resource_spans_size(), 3);
  const auto& first = req.resource_spans(0);
  EXPECT_EQ(find(first.resource().attributes(), "service.name")->value().string_value(), "beta");
  ASSERT_EQ(first.scope_spans_size(), 1);
  EXPECT_EQ(first.scope_spans(0).scope().name(), "spanwire");
  EXPECT_EQ(first.scope_spans(0).scope().version(), SPANWIRE_VERSION);
  ASSERT_EQ(first.scope_spans(0).spans_size(), 2);
  EXPECT_EQ(first.scope_spans(0).spans(0).name(), "b1");
  EXPECT_EQ(first.scope_spans(0).spans(1).name(), "b2");

  const auto& second = req.resource_spans(1);
  EXPECT_EQ(find(second.resource().attributes(), "process.pid")->value().int_value(), 1);
  ASSERT_EQ(second.scope_spans(0).spans_size(), 2);
  EXPECT_EQ(second.scope_spans(0).spans(0).name(), "a1");
  EXPECT_EQ(second.scope_spans(0).spans(1).name(), "a2");

  // A span without a resource still gets exported, under an empty resource.
  const auto& third = req.resource_spans(2);
  EXPECT_EQ(third.resource().attributes_size(), 0);
  ASSERT_EQ(third.scope_spans(0).spans_size(), 1);
  EXPECT_EQ(third.scope_spans(0).spans(0).name(), "none");
}

TEST(OtlpConvert, EmptyInputGivesEmptyRequest) {
  EXPECT_EQ(to_otlp_request({}).resource_spans_size(), 0);
}

TEST(OtlpConvert, MapsEveryField) {
  Span s = make_span(make_resource(7, "svc"), "GET /users/{id}", 0);
  for (uint8_t i = 0; i < 16; ++i) s.trace_id[i] = i;
  for (uint8_t i = 0; i < 8; ++i) s.span_id[i] = static_cast<uint8_t>(0x10 + i);
  for (uint8_t i = 0; i < 8; ++i) s.parent_span_id[i] = static_cast<uint8_t>(0x20 + i);
  s.trace_state = "vendor=x";
  s.flags = 1;
  s.kind = SpanKind::kClient;
  s.start_unix_ns = 1'700'000'000'000'000'001;
  s.end_unix_ns = 1'700'000'000'003'000'002;
  s.status = StatusCode::kError;
  s.status_message = "HTTP 503";
  s.attributes = {{"http.request.method", std::string("GET")}, {"http.response.status_code", int64_t{503}}};

  const auto req = to_otlp_request({s});
  const trace::Span& out = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(out.trace_id(), bytes_of(s.trace_id));
  EXPECT_EQ(out.span_id(), bytes_of(s.span_id));
  EXPECT_EQ(out.parent_span_id(), bytes_of(s.parent_span_id));
  EXPECT_EQ(out.trace_state(), "vendor=x");
  EXPECT_EQ(out.flags(), 1u);
  EXPECT_EQ(out.name(), "GET /users/{id}");
  EXPECT_EQ(out.kind(), trace::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(out.start_time_unix_nano(), 1'700'000'000'000'000'001u);
  EXPECT_EQ(out.end_time_unix_nano(), 1'700'000'000'003'000'002u);
  EXPECT_EQ(out.status().code(), trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(out.status().message(), "HTTP 503");
  ASSERT_EQ(out.attributes_size(), 2);
  EXPECT_EQ(out.attributes(0).key(), "http.request.method");
  EXPECT_EQ(out.attributes(0).value().string_value(), "GET");
  EXPECT_EQ(out.attributes(1).key(), "http.response.status_code");
  EXPECT_EQ(out.attributes(1).value().int_value(), 503);
}

TEST(OtlpConvert, KindsAndStatusCodesKeepTheirNumbers) {
  const auto r = make_resource(1, "x");
  Span server = make_span(r, "s", 1);
  server.kind = SpanKind::kServer;
  server.status = StatusCode::kOk;
  Span internal = make_span(r, "i", 2);
  internal.kind = SpanKind::kInternal;
  internal.status = StatusCode::kUnset;
  const auto req = to_otlp_request({server, internal});
  const auto& spans = req.resource_spans(0).scope_spans(0).spans();
  EXPECT_EQ(spans[0].kind(), trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(spans[0].status().code(), trace::Status::STATUS_CODE_OK);
  EXPECT_EQ(spans[1].kind(), trace::Span::SPAN_KIND_INTERNAL);
  EXPECT_EQ(spans[1].status().code(), trace::Status::STATUS_CODE_UNSET);
}

TEST(OtlpConvert, RootSpanHasEmptyParentAndChildHasEightBytes) {
  const auto r = make_resource(1, "x");
  Span root = make_span(r, "root", 1);
  Span child = make_span(r, "child", 2);
  child.parent_span_id = root.span_id;
  const auto req = to_otlp_request({root, child});
  const auto& spans = req.resource_spans(0).scope_spans(0).spans();
  EXPECT_TRUE(spans[0].parent_span_id().empty());
  EXPECT_EQ(spans[1].parent_span_id(), bytes_of(root.span_id));
  EXPECT_EQ(spans[1].parent_span_id().size(), 8u);
}

TEST(OtlpConvert, AttributeTypesMapToTheirAnyValueMembers) {
  Span s = make_span(make_resource(1, "x"), "s", 1);
  s.attributes = {{"str", std::string("v")}, {"int", int64_t{-42}}, {"bool", true}, {"double", 2.5}};
  const auto req = to_otlp_request({s});
  const auto& attrs = req.resource_spans(0).scope_spans(0).spans(0).attributes();
  ASSERT_EQ(attrs.size(), 4);
  EXPECT_EQ(attrs[0].value().value_case(), common::AnyValue::kStringValue);
  EXPECT_EQ(attrs[0].value().string_value(), "v");
  EXPECT_EQ(attrs[1].value().value_case(), common::AnyValue::kIntValue);
  EXPECT_EQ(attrs[1].value().int_value(), -42);
  EXPECT_EQ(attrs[2].value().value_case(), common::AnyValue::kBoolValue);
  EXPECT_TRUE(attrs[2].value().bool_value());
  EXPECT_EQ(attrs[3].value().value_case(), common::AnyValue::kDoubleValue);
  EXPECT_DOUBLE_EQ(attrs[3].value().double_value(), 2.5);
}

TEST(OtlpConvert, InvalidUtf8BecomesReplacementCharacterSoTheRequestParses) {
  Span s = make_span(make_resource(1, "x"), "GET /caf\xc3\xa9\xff", 1);
  s.attributes = {{"url.path", std::string("/a\xc3(\xed\xa0\x80z")}};  // truncated sequence, surrogate
  const auto req = to_otlp_request({s});
  const auto& out = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(out.name(), "GET /caf\xc3\xa9\xef\xbf\xbd");
  EXPECT_EQ(out.attributes(0).value().string_value(), "/a\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");

  // A collector must be able to parse what we send: proto3 strings are checked.
  std::string wire;
  ASSERT_TRUE(req.SerializeToString(&wire));
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire));
}

TEST(OtlpConvert, BadBytesAreFoundOnEitherSideOfTheAsciiFastPath) {
  // The ASCII scan steps eight bytes at a time: bad bytes in its first word,
  // on a word boundary, in the tail after the last whole word, and valid
  // multi-byte text after a long ASCII run.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\xff" "abcdefghij", "\xef\xbf\xbd" "abcdefghij"},
      {"abcdefgh\xff" "ij", "abcdefgh\xef\xbf\xbd" "ij"},
      {"abcdefghijklmnopq\xc3", "abcdefghijklmnopq\xef\xbf\xbd"},
      {"abcdefghijklmnop\xc3\xa9", "abcdefghijklmnop\xc3\xa9"},
      {"abcdefgh", "abcdefgh"},
      {"", ""}};
  for (const auto& [in, want] : cases) {
    Span s = make_span(make_resource(1, "x"), in, 1);
    EXPECT_EQ(to_otlp_request({s}).resource_spans(0).scope_spans(0).spans(0).name(), want);
  }
}

}  // namespace
}  // namespace spanwire
