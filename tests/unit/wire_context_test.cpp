// The trace-context TCP option and the traceparent reader the kernel uses
// (bpf/wire_context.h), compiled here as plain C.
#include <linux/types.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "wire_context.h"
}

namespace {

sw_trace_ctx sample() {
  sw_trace_ctx c{};
  for (int i = 0; i < 16; ++i) c.trace_id[i] = static_cast<__u8>(0xa0 + i);
  for (int i = 0; i < 8; ++i) c.span_id[i] = static_cast<__u8>(0x10 + i);
  return c;
}

TEST(WireOption, LaysOutKindLengthExidTraceAndSpan) {
  __u8 opt[SW_WIRE_OPT_LEN];
  const sw_trace_ctx c = sample();
  sw_wire_encode(&c, SW_WIRE_FLAG_UNKNOWN, opt);
  EXPECT_EQ(opt[0], 253);  // RFC 6994 experimental
  EXPECT_EQ(opt[1], 28);
  EXPECT_EQ(opt[2], 0x53);
  EXPECT_EQ(opt[3], 0x57);
  EXPECT_EQ(0, std::memcmp(opt + 4, c.trace_id, 16));
  EXPECT_EQ(0, std::memcmp(opt + 20, c.span_id, 8));
  // Beside timestamps (10 bytes, padded to 12) it fills the 40 bytes of option space.
  EXPECT_EQ(12 + SW_WIRE_OPT_LEN, 40);
}

TEST(WireOption, DecodesWhatItEncodes) {
  __u8 opt[SW_WIRE_OPT_LEN];
  const sw_trace_ctx c = sample();
  sw_wire_encode(&c, SW_WIRE_FLAG_UNKNOWN, opt);
  sw_trace_ctx back{};
  __u8 flag = 9;
  ASSERT_EQ(0, sw_wire_decode(opt, sizeof(opt), &back, &flag));
  EXPECT_EQ(0, std::memcmp(&back, &c, sizeof(c)));
  EXPECT_EQ(flag, SW_WIRE_FLAG_UNKNOWN);
}

// The option has no room for a flags byte: its ExID says the caller's
// sampled flag, or that the caller did not know it (an older sender's 0x5357).
TEST(WireOption, ItsExidCarriesTheSampledFlag) {
  const sw_trace_ctx c = sample();
  const std::pair<__u8, int> cases[] = {
      {SW_WIRE_FLAG_UNKNOWN, 0x5357}, {SW_WIRE_FLAG_SAMPLED, 0x5358}, {SW_WIRE_FLAG_NOT_SAMPLED, 0x5359}};
  for (const auto& [flag, exid] : cases) {
    __u8 opt[SW_WIRE_OPT_LEN];
    sw_wire_encode(&c, flag, opt);
    EXPECT_EQ(opt[2] << 8 | opt[3], exid);
    sw_trace_ctx back{};
    __u8 got = 9;
    ASSERT_EQ(0, sw_wire_decode(opt, sizeof(opt), &back, &got));
    EXPECT_EQ(got, flag);
    EXPECT_EQ(0, std::memcmp(&back, &c, sizeof(c)));
  }
}

TEST(WireOption, RejectsOtherOptionsAndInvalidIds) {
  __u8 opt[SW_WIRE_OPT_LEN];
  const sw_trace_ctx c = sample();
  sw_trace_ctx back{};
  __u8 flag = 0;
  auto fresh = [&] { sw_wire_encode(&c, SW_WIRE_FLAG_UNKNOWN, opt); };
  fresh();
  EXPECT_EQ(-1, sw_wire_decode(opt, SW_WIRE_OPT_LEN - 1, &back, &flag)) << "short";
  fresh();
  opt[0] = 254;
  EXPECT_EQ(-1, sw_wire_decode(opt, sizeof(opt), &back, &flag)) << "the other experimental kind";
  fresh();
  opt[1] = 20;
  EXPECT_EQ(-1, sw_wire_decode(opt, sizeof(opt), &back, &flag)) << "length";
  fresh();
  opt[3] = 0x5a;
  EXPECT_EQ(-1, sw_wire_decode(opt, sizeof(opt), &back, &flag)) << "another ExID";
  fresh();
  opt[2] = 0xf9;
  opt[3] = 0x89;
  EXPECT_EQ(-1, sw_wire_decode(opt, sizeof(opt), &back, &flag)) << "TCP Fast Open's ExID";
  fresh();
  std::memset(opt + 4, 0, 16);
  EXPECT_EQ(-1, sw_wire_decode(opt, sizeof(opt), &back, &flag)) << "all-zero trace id";
  fresh();
  std::memset(opt + 20, 0, 8);
  EXPECT_EQ(-1, sw_wire_decode(opt, sizeof(opt), &back, &flag)) << "all-zero span id";
}

int parse(const std::string& value, sw_trace_ctx* c, __u8* flags) {
  std::string padded = value;
  padded.resize(SW_TRACEPARENT_LEN, 'x');
  return sw_parse_traceparent(reinterpret_cast<const __u8*>(padded.data()), c, flags);
}

TEST(Traceparent, ParsesVersion00) {
  sw_trace_ctx c{};
  __u8 flags = 0;
  ASSERT_EQ(0, parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c, &flags));
  EXPECT_EQ(c.trace_id[0], 0x4b);
  EXPECT_EQ(c.trace_id[15], 0x36);
  EXPECT_EQ(c.span_id[0], 0x00);
  EXPECT_EQ(c.span_id[7], 0xb7);
  EXPECT_EQ(flags, 1);
}

TEST(Traceparent, RejectsWhatW3CCallsInvalid) {
  sw_trace_ctx c{};
  __u8 flags = 0;
  EXPECT_EQ(-1, parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c, &flags)) << "version";
  EXPECT_EQ(-1, parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", &c, &flags)) << "uppercase";
  EXPECT_EQ(-1, parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01", &c, &flags)) << "zero trace";
  EXPECT_EQ(-1, parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", &c, &flags)) << "zero parent";
  EXPECT_EQ(-1, parse("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", &c, &flags)) << "separator";
  EXPECT_EQ(-1, parse("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", &c, &flags)) << "not hex";
  EXPECT_EQ(-1, parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", &c, &flags)) << "flags";
}

TEST(Traceparent, HeaderNameIsCaseInsensitive) {
  EXPECT_TRUE(sw_is_traceparent_name(reinterpret_cast<const __u8*>("traceparent:")));
  EXPECT_TRUE(sw_is_traceparent_name(reinterpret_cast<const __u8*>("TraceParent:")));
  EXPECT_FALSE(sw_is_traceparent_name(reinterpret_cast<const __u8*>("tracestate: ")));
  EXPECT_FALSE(sw_is_traceparent_name(reinterpret_cast<const __u8*>("traceparent ")));
}

}  // namespace
