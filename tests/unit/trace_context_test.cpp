#include "span/trace_context.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace spanwire {
namespace {

TEST(TraceParent, ParsesVersion00) {
  auto tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp);
  EXPECT_EQ(to_hex(tp->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(tp->parent_id), "00f067aa0ba902b7");
  EXPECT_EQ(tp->flags, 1);
}

TEST(TraceParent, RejectsInvalidValues) {
  EXPECT_FALSE(parse_traceparent(""));
  EXPECT_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));  // zero trace id
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));  // zero parent
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));  // uppercase
  EXPECT_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));  // forbidden version
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"));
}

TEST(TraceParent, AcceptsFutureVersionsWithMoreFields) {
  auto tp = parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->flags, 0);
  EXPECT_TRUE(parse_traceparent("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 "));
}

TEST(B3, SingleHeader) {
  auto tp = parse_b3_single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
  ASSERT_TRUE(tp);
  EXPECT_EQ(to_hex(tp->trace_id), "80f198ee56343ba864fe8b2a57d3eff7");
  EXPECT_EQ(to_hex(tp->parent_id), "e457b5a2e4d86bd1");  // the caller's span is our parent
  EXPECT_EQ(tp->flags, 1);
  tp = parse_b3_single("64fe8b2a57d3eff7-e457b5a2e4d86bd1-0");  // 64-bit trace id, not sampled
  ASSERT_TRUE(tp);
  EXPECT_EQ(to_hex(tp->trace_id), "000000000000000064fe8b2a57d3eff7");
  EXPECT_EQ(tp->flags, 0);
  EXPECT_TRUE(parse_b3_single("64fe8b2a57d3eff7-e457b5a2e4d86bd1"));  // sampling deferred
  EXPECT_FALSE(parse_b3_single("1"));  // a sampling decision only
  EXPECT_FALSE(parse_b3_single("xyz-e457b5a2e4d86bd1-1"));
  EXPECT_FALSE(parse_b3_single("64fe8b2a57d3eff7-0000000000000000-1"));
}

TEST(B3, MultiHeaders) {
  const std::string trace = "463ac35c9f6413ad48485a3953bb6124", span = "a2fb4a1d1a96d312", sampled = "1";
  auto tp = parse_b3_multi(&trace, &span, &sampled, nullptr);
  ASSERT_TRUE(tp);
  EXPECT_EQ(to_hex(tp->trace_id), trace);
  EXPECT_EQ(to_hex(tp->parent_id), span);
  EXPECT_FALSE(parse_b3_multi(&trace, nullptr, &sampled, nullptr));
}

TEST(InboundContext, TraceparentFirstThenB3) {
  std::map<std::string, std::string> headers{
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {"tracestate", "congo=t61rcWkgMzE"},
      {"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}};
  auto lookup = [&headers](std::string_view name) -> const std::string* {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? nullptr : &it->second;
  };
  auto ctx = read_inbound_context(lookup);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->source, ContextSource::kTraceparent);
  EXPECT_EQ(ctx->trace_state, "congo=t61rcWkgMzE");
  headers.erase("traceparent");
  ctx = read_inbound_context(lookup);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->source, ContextSource::kB3);
  EXPECT_EQ(to_hex(ctx->parent.trace_id), "80f198ee56343ba864fe8b2a57d3eff7");
  headers = {{"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"}, {"x-b3-spanid", "a2fb4a1d1a96d312"}};
  ctx = read_inbound_context(lookup);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->source, ContextSource::kB3);
  headers.clear();
  EXPECT_FALSE(read_inbound_context(lookup));
}

TEST(IdGenerator, IdsAreNonZeroAndDistinct) {
  IdGenerator ids;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = ids.trace_id();
    auto s = ids.span_id();
    EXPECT_NE(to_hex(t), std::string(32, '0'));
    EXPECT_NE(to_hex(s), std::string(16, '0'));
    EXPECT_TRUE(seen.insert(to_hex(s)).second);
  }
}

}  // namespace
}  // namespace spanwire
