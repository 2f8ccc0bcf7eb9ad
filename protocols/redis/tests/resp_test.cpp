// RESP framing (protocols/redis/resp.h): RESP2 and RESP3 values, inline
// commands, any split of the input, lost bytes inside and outside bulk strings.
#include "redis/resp.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spanwire::redis {
namespace {

std::vector<Value> frame(Reader::Side side, std::string_view bytes, size_t chunk = 0) {
  Reader r(side);
  const size_t step = chunk == 0 ? std::max<size_t>(bytes.size(), 1) : chunk;
  for (size_t at = 0; at < bytes.size(); at += step) r.feed(bytes.substr(at, step), at);
  auto out = r.take();
  return {out.begin(), out.end()};
}

constexpr std::string_view kPipeline =
    "*3\r\n$3\r\nSET\r\n$4\r\nuser\r\n$6\r\nsecret\r\n"
    "*2\r\n$3\r\nGET\r\n$4\r\nuser\r\n"
    "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"
    "PING\r\n"
    "*4\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n$5\r\nextra\r\n";

TEST(RespReader, CommandsKeepTheirNameAndOnlyTheArgumentsSpansNeed) {
  const auto v = frame(Reader::Side::kRequests, kPipeline);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].head, (std::vector<std::string>{"SET"}));  // never the key or the value
  EXPECT_EQ(v[0].elements, 3);
  EXPECT_EQ(v[1].head, (std::vector<std::string>{"GET"}));
  EXPECT_EQ(v[2].head, (std::vector<std::string>{"SELECT", "3"}));
  EXPECT_EQ(v[3].type, 'i');
  EXPECT_EQ(v[3].head, (std::vector<std::string>{"PING"}));
  EXPECT_EQ(v[4].head, (std::vector<std::string>{"CLIENT", "REPLY", "OFF"}));
  EXPECT_EQ(v[1].offset, 35u);
  EXPECT_EQ(v[0].bytes, 35u);
}

TEST(RespReader, EverySplitFramesTheSame) {
  const auto whole = frame(Reader::Side::kRequests, kPipeline);
  for (size_t chunk = 1; chunk < kPipeline.size(); ++chunk) {
    const auto split = frame(Reader::Side::kRequests, kPipeline, chunk);
    ASSERT_EQ(split.size(), whole.size()) << chunk;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(split[i].head, whole[i].head) << chunk;
      EXPECT_EQ(split[i].offset, whole[i].offset) << chunk;
    }
  }
}

TEST(RespReader, Resp2AndResp3Replies) {
  const std::string replies =
      "+OK\r\n-WRONGTYPE Operation against a key\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n"
      "*2\r\n$7\r\nmessage\r\n*1\r\n:1\r\n"                     // nested
      "%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n:1\r\n:2\r\n"              // map
      "|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n"                        // attribute, then the value
      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"          // push
      "_\r\n#t\r\n,3.14\r\n(123456789012345678901\r\n!9\r\nERR oops!\r\n=7\r\ntxt:abc\r\n~1\r\n:1\r\n";
  const auto v = frame(Reader::Side::kReplies, replies);
  ASSERT_EQ(v.size(), 17u);
  EXPECT_EQ(v[0].head, (std::vector<std::string>{"OK"}));
  EXPECT_EQ(v[1].error, "WRONGTYPE Operation against a key");
  EXPECT_EQ(v[3].type, '$');
  EXPECT_TRUE(v[3].head.empty());  // values of replies are never kept
  EXPECT_EQ(v[5].elements, -1);
  EXPECT_EQ(v[6].head, (std::vector<std::string>{"message"}));
  EXPECT_EQ(v[7].type, '%');
  EXPECT_EQ(v[8].type, '$');  // the attribute was a prefix
  EXPECT_EQ(v[9].type, '>');
  EXPECT_EQ(v[9].head, (std::vector<std::string>{"message"}));
  EXPECT_EQ(v[14].error, "ERR oops!");
  EXPECT_EQ(v[16].type, '~');
  for (size_t chunk = 1; chunk < 9; ++chunk) EXPECT_EQ(frame(Reader::Side::kReplies, replies, chunk).size(), 17u);
}

TEST(RespReader, LostBytesInsideABulkStringKeepSync) {
  Reader r(Reader::Side::kReplies);
  r.feed("$100000\r\n", 1);
  r.feed(std::string(1000, 'x'), 2);
  r.gap(99000, 3);  // beyond the kernel's copy
  r.feed("\r\n+OK\r\n", 4);
  const auto v = r.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].had_gap);
  EXPECT_EQ(v[0].bytes, 100000u + 11);
  EXPECT_EQ(v[1].head[0], "OK");
  EXPECT_EQ(r.stats().resyncs, 0u);
}

TEST(RespReader, RequestsResynchroniseAtTheNextCommand) {
  Reader r(Reader::Side::kRequests);
  r.feed("*2\r\n$3\r\nGET\r\n$3\r\nab", 1);
  r.gap(10, 2);  // lost past the end of the bulk string
  r.feed("c\r\ngarbage", 3);
  r.feed("*1\r\n$4\r\nPING\r\n", 4);
  const auto v = r.take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].head[0], "PING");
  EXPECT_EQ(r.stats().resyncs, 1u);
  EXPECT_GT(r.stats().skipped_bytes, 0u);
}

TEST(RespReader, RepliesWaitForTheOffsetTheyAreTold) {
  Reader r(Reader::Side::kReplies);
  r.start_midstream();
  r.feed("lo\r\n+OK\r\n", 1);  // the tail of something: nothing is framed
  EXPECT_TRUE(r.take().empty());
  r.resume_at(r.position() + 5);
  r.feed("K\r\n\r\n:7\r\n", 2);
  const auto v = r.take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].type, ':');
}

TEST(RespReader, GarbageNeverGrowsMemory) {
  Reader r(Reader::Side::kReplies);
  r.feed("+" + std::string(200000, 'a'), 1);  // a line far over the limit
  EXPECT_FALSE(r.in_sync());
  Reader deep(Reader::Side::kReplies);
  std::string nested;
  for (int i = 0; i < 100; ++i) nested += "*1\r\n";
  deep.feed(nested, 1);
  EXPECT_FALSE(deep.in_sync());
  EXPECT_EQ(deep.stats().errors, 1u);
}

}  // namespace
}  // namespace spanwire::redis
