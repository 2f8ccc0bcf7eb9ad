// Unit tests for the gRPC helpers: content-type, paths, message framing, status codes,
// grpc-message percent-encoding.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "grpc/grpc_wire.h"

namespace spanwire::grpc_wire {
namespace {

std::string message(std::string_view payload, bool compressed = false) {
  std::string out(1, compressed ? '\1' : '\0');
  const auto n = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(payload);
  return out;
}

TEST(Grpc, ContentType) {
  EXPECT_TRUE(is_grpc("application/grpc"));
  EXPECT_TRUE(is_grpc("application/grpc+proto"));
  EXPECT_TRUE(is_grpc("application/grpc+json"));
  EXPECT_TRUE(is_grpc("Application/GRPC"));
  EXPECT_TRUE(is_grpc("application/grpc; charset=utf-8"));
  EXPECT_FALSE(is_grpc("application/grpc-web"));
  EXPECT_FALSE(is_grpc("application/grpc-web+proto"));
  EXPECT_FALSE(is_grpc("application/grpcx"));
  EXPECT_FALSE(is_grpc("application/grpc+"));
  EXPECT_FALSE(is_grpc("application/json"));
  EXPECT_FALSE(is_grpc(""));
}

TEST(Grpc, Path) {
  auto p = parse_path("/helloworld.Greeter/SayHello");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->service, "helloworld.Greeter");
  EXPECT_EQ(p->method, "SayHello");
  p = parse_path("/grpc.health.v1.Health/Check");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->service, "grpc.health.v1.Health");
  EXPECT_EQ(p->method, "Check");
  EXPECT_FALSE(parse_path("helloworld.Greeter/SayHello"));
  EXPECT_FALSE(parse_path("/helloworld.Greeter"));
  EXPECT_FALSE(parse_path("/helloworld.Greeter/"));
  EXPECT_FALSE(parse_path("//SayHello"));
  EXPECT_FALSE(parse_path("/a/b/c"));
  EXPECT_FALSE(parse_path("/index.html?x=1"));
}

TEST(Grpc, StatusNames) {
  EXPECT_STREQ(status_name(0), "OK");
  EXPECT_STREQ(status_name(1), "CANCELLED");
  EXPECT_STREQ(status_name(4), "DEADLINE_EXCEEDED");
  EXPECT_STREQ(status_name(5), "NOT_FOUND");
  EXPECT_STREQ(status_name(14), "UNAVAILABLE");
  EXPECT_STREQ(status_name(16), "UNAUTHENTICATED");
  EXPECT_EQ(status_name(17), nullptr);
  EXPECT_EQ(status_name(-1), nullptr);
  EXPECT_EQ(parse_status("0"), 0);
  EXPECT_EQ(parse_status("14"), 14);
  EXPECT_FALSE(parse_status(""));
  EXPECT_FALSE(parse_status("-1"));
  EXPECT_FALSE(parse_status("1 "));
  EXPECT_FALSE(parse_status("99999999999"));
}

TEST(Grpc, MessagePercentDecoding) {
  EXPECT_EQ(decode_message("Not%20Found"), "Not Found");
  EXPECT_EQ(decode_message("caf%C3%A9 %e2%9c%93"), "café ✓");
  EXPECT_EQ(decode_message("100%"), "100%");          // incomplete escape kept
  EXPECT_EQ(decode_message("50%zz off"), "50%zz off");  // invalid escape kept
  EXPECT_EQ(decode_message("%2"), "%2");
  EXPECT_EQ(decode_message("plain"), "plain");
  EXPECT_EQ(encode_message("a%b\n\xff"), "a%25b%0A%FF");
  EXPECT_EQ(decode_message(encode_message("line1\nline2 100% ünïcode")), "line1\nline2 100% ünïcode");
}

TEST(GrpcFramer, CountsMessagesAcrossEverySplit) {
  const std::string stream = message("") + message(std::string(300, 'a'), true) + message("hello") +
                             message(std::string(70000, 'z'));
  for (size_t split = 1; split <= 7; ++split) {
    MessageFramer f;
    for (size_t at = 0; at < stream.size(); at += split) f.feed(std::string_view(stream).substr(at, split));
    EXPECT_EQ(f.messages(), 4u) << split;
    EXPECT_EQ(f.message_bytes(), 70305u);
    EXPECT_EQ(f.compressed_messages(), 1u);
    EXPECT_FALSE(f.partial());
    EXPECT_FALSE(f.lost());
  }
  // Every two-piece split.
  for (size_t cut = 0; cut <= 320; ++cut) {
    MessageFramer f;
    f.feed(std::string_view(stream).substr(0, cut));
    f.feed(std::string_view(stream).substr(cut));
    ASSERT_EQ(f.messages(), 4u) << cut;
  }
}

TEST(GrpcFramer, PartialAndGaps) {
  const std::string m1 = message(std::string(1000, 'a'));
  const std::string m2 = message("bb");
  MessageFramer f;
  f.feed(m1.substr(0, 3));
  EXPECT_TRUE(f.partial());
  EXPECT_EQ(f.messages(), 0u);
  f.feed(m1.substr(3, 100));
  f.gap(800);  // inside the payload: still exact
  f.feed(m1.substr(903));
  f.feed(m2);
  EXPECT_EQ(f.messages(), 2u);
  EXPECT_EQ(f.message_bytes(), 1002u);
  EXPECT_TRUE(f.had_gap());
  EXPECT_FALSE(f.lost());
  // A gap over a prefix loses the framing.
  f.feed(m2.substr(0, 6));
  f.gap(10);
  EXPECT_TRUE(f.lost());
  f.feed(m2);
  EXPECT_EQ(f.messages(), 2u);
  EXPECT_FALSE(f.partial());
}

TEST(GrpcFramer, GapEndingExactlyAtMessageEnd) {
  const std::string m = message(std::string(50, 'q'));
  MessageFramer f;
  f.feed(m.substr(0, 10));
  f.gap(45);
  EXPECT_EQ(f.messages(), 1u);
  EXPECT_FALSE(f.partial());
  f.feed(m);
  EXPECT_EQ(f.messages(), 2u);
}

}  // namespace
}  // namespace spanwire::grpc_wire
