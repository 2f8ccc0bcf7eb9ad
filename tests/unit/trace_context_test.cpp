#include "span/trace_context.h"

#include <gtest/gtest.h>

#include <set>

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
