#include "conn/stream_buffer.h"

#include <gtest/gtest.h>

#include "metrics/metrics.h"

namespace spanwire {
namespace {

// Records what the buffer delivers: bytes as-is, gaps as "<gap N>".
struct Recorder : StreamConsumer {
  void on_bytes(std::string_view b, uint64_t) override { out += b; }
  void on_gap(uint64_t n, uint64_t) override { out += "<gap " + std::to_string(n) + ">"; }
  std::string out;
};

class StreamBufferTest : public ::testing::Test {
 protected:
  Metrics metrics;
  Recorder rec;
  StreamBuffer buf{StreamBuffer::Limits{1024, 100}, metrics};
  void add(uint64_t pos, std::string_view b, uint64_t now = 0) { buf.add(pos, b, b.size(), 0, now, rec); }
};

TEST_F(StreamBufferTest, DeliversInOrderChunks) {
  buf.start_at(0);
  add(0, "hello ");
  add(6, "world");
  EXPECT_EQ(rec.out, "hello world");
  EXPECT_EQ(buf.next_pos(), 11u);
  EXPECT_EQ(metrics.stream_bytes, 11u);
}

TEST_F(StreamBufferTest, ReordersOutOfOrderChunks) {
  buf.start_at(0);
  add(6, "world");
  EXPECT_EQ(rec.out, "");
  EXPECT_EQ(buf.pending_bytes(), 5u);
  add(0, "hello ");
  EXPECT_EQ(rec.out, "hello world");
  EXPECT_EQ(buf.pending_bytes(), 0u);
}

TEST_F(StreamBufferTest, DropsDuplicatesAndTrimsOverlaps) {
  buf.start_at(0);
  add(0, "abcdef");
  add(0, "abcdef");   // duplicate
  add(4, "efgh");     // overlaps by two bytes
  EXPECT_EQ(rec.out, "abcdefgh");
  EXPECT_EQ(metrics.stream_duplicate_bytes, 8u);
}

TEST_F(StreamBufferTest, UncopiedTailBecomesAKnownGap) {
  buf.start_at(0);
  buf.add(0, "head", 10, 0, 0, rec);  // 10 bytes moved, 4 copied
  add(10, "next");
  EXPECT_EQ(rec.out, "head<gap 6>next");
  EXPECT_EQ(metrics.stream_gap_bytes, 6u);
}

TEST_F(StreamBufferTest, HoleIsDeclaredLostAfterTimeout) {
  buf.start_at(0);
  add(0, "ab");
  add(5, "fg", /*now=*/1000);
  buf.flush_stale(1050, rec);
  EXPECT_EQ(rec.out, "ab");  // still waiting
  buf.flush_stale(1100, rec);
  EXPECT_EQ(rec.out, "ab<gap 3>fg");
  add(2, "cde");  // arrives too late: already skipped
  EXPECT_EQ(rec.out, "ab<gap 3>fg");
  EXPECT_EQ(metrics.stream_duplicate_bytes, 3u);
}

TEST_F(StreamBufferTest, PendingBytesAreBounded) {
  buf.start_at(0);
  std::string big(600, 'x');
  add(100, big);
  add(800, big);  // 1200 bytes pending > 1024: the first hole is given up
  EXPECT_EQ(rec.out, "<gap 100>" + big);
  EXPECT_LE(buf.pending_bytes(), 1024u);
}

TEST_F(StreamBufferTest, MidstreamStartsAtFirstChunk) {
  add(5000, "GET / HTTP/1.1\r\n");
  EXPECT_EQ(rec.out, "GET / HTTP/1.1\r\n");
  EXPECT_EQ(buf.next_pos(), 5016u);
}

TEST_F(StreamBufferTest, TotalsAtCloseRevealALostTail) {
  buf.start_at(0);
  add(0, "abc");
  buf.end_at(10, 0, rec);
  EXPECT_EQ(rec.out, "abc<gap 7>");
  EXPECT_EQ(metrics.stream_gap_bytes, 7u);
}

// A direction of a connection joined mid-way that never showed a chunk: its
// bytes may have moved after the join, or all before it. Unknown, so the
// parser hears of a possible loss rather than nothing.
TEST_F(StreamBufferTest, NeverSeenStreamThatMovedEndsInAnUnknownGap) {
  buf.end_at(5000, 0, rec);
  EXPECT_EQ(rec.out, "<gap 1>");
  Recorder silent;
  StreamBuffer never_moved{StreamBuffer::Limits{1024, 100}, metrics};
  never_moved.end_at(0, 0, silent);
  EXPECT_EQ(silent.out, "");
}

TEST_F(StreamBufferTest, ForcedFlushDrainsEverything) {
  buf.start_at(0);
  add(3, "def");
  add(9, "jkl");
  buf.flush_stale(0, rec, /*force=*/true);
  EXPECT_EQ(rec.out, "<gap 3>def<gap 3>jkl");
}

}  // namespace
}  // namespace spanwire
