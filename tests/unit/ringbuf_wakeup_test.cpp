// When a ring-buffer record wakes userspace (bpf/ringbuf_wakeup.h), compiled
// here as plain C.
#include <linux/types.h>

#include <gtest/gtest.h>

extern "C" {
#include "ringbuf_wakeup.h"
}

namespace {

constexpr __u64 kThreshold = 256 << 10;

TEST(RingbufWakeup, RecordsTakeAHeaderAndEightByteAlignment) {
  EXPECT_EQ(sw_ringbuf_record_bytes(0), 8u);
  EXPECT_EQ(sw_ringbuf_record_bytes(1), 16u);
  EXPECT_EQ(sw_ringbuf_record_bytes(8), 16u);
  EXPECT_EQ(sw_ringbuf_record_bytes(9), 24u);
}

TEST(RingbufWakeup, OnlyTheRecordThatCrossesTheThresholdWakes) {
  EXPECT_FALSE(sw_wakeup_due(0, 600, kThreshold));
  EXPECT_FALSE(sw_wakeup_due(kThreshold - 1000, 600, kThreshold));
  EXPECT_TRUE(sw_wakeup_due(kThreshold - 100, 600, kThreshold));
  // Userspace was woken: the records after the crossing do not wake it again.
  EXPECT_FALSE(sw_wakeup_due(kThreshold, 600, kThreshold));
  EXPECT_FALSE(sw_wakeup_due(kThreshold + 5000, 600, kThreshold));
  // Unless it lags by another threshold's worth.
  EXPECT_TRUE(sw_wakeup_due(2 * kThreshold - 8, 600, kThreshold));
}

TEST(RingbufWakeup, ALaggingReaderIsWokenOncePerThresholdWritten) {
  __u64 waiting = 0;
  int wakeups = 0;
  for (int i = 0; i < 100'000; ++i) {  // ~60 MiB of 600-byte events, never read
    wakeups += sw_wakeup_due(waiting, 600, kThreshold);
    waiting += sw_ringbuf_record_bytes(600);
  }
  EXPECT_EQ(wakeups, static_cast<int>(waiting / kThreshold));
}

TEST(RingbufWakeup, AFirstCrossingMissedByTwoProducersIsCaughtAtTheNext) {
  // Both read the same waiting bytes before the other's record went in:
  // neither sees its own record cross, though the two together do.
  const __u64 waiting = kThreshold - 700;
  EXPECT_FALSE(sw_wakeup_due(waiting, 600, kThreshold));
  __u64 after = waiting + 2 * sw_ringbuf_record_bytes(600);
  ASSERT_GT(after, kThreshold);
  bool woken = false;
  while (!woken && after < 3 * kThreshold) {
    woken = sw_wakeup_due(after, 600, kThreshold);
    after += sw_ringbuf_record_bytes(600);
  }
  EXPECT_TRUE(woken);
  EXPECT_LE(after, 2 * kThreshold + sw_ringbuf_record_bytes(600));
}

TEST(RingbufWakeup, NoThresholdMeansEveryRecord) {
  EXPECT_TRUE(sw_wakeup_due(0, 600, 0));
  EXPECT_TRUE(sw_wakeup_due(12345, 1, 0));
}

}  // namespace
