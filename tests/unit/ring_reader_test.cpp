// The ring walk on plain memory laid out as the kernel lays out a
// BPF_MAP_TYPE_RINGBUF: 8-byte record headers (length with the busy and
// discard bits, page offset), records rounded up to 8 bytes, the data area
// mapped twice so that a wrapping record reads as contiguous bytes.
#include <linux/bpf.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "loader/ring_reader.h"

namespace spanwire {
namespace {

constexpr uint64_t kSize = 256;

class FakeRing {
 public:
  FakeRing() : data_(2 * kSize) {}

  // Appends a record as a producer would commit it (flags: busy / discard bits).
  uint64_t push(const std::string& bytes, uint32_t flags = 0) {
    const uint64_t at = producer_;
    write(at, static_cast<uint32_t>(bytes.size()) | flags);
    for (size_t i = 0; i < bytes.size(); ++i) put(at + 8 + i, static_cast<uint8_t>(bytes[i]));
    producer_ += (bytes.size() + 8 + 7) & ~uint64_t{7};
    return at;
  }
  void commit(uint64_t at, uint32_t len) { write(at, len); }

  RingView view() { return {&consumer_, &producer_, data_.data(), kSize - 1}; }
  uint64_t consumer() const { return consumer_; }

 private:
  void put(uint64_t pos, uint8_t b) {
    data_[pos & (kSize - 1)] = b;
    data_[(pos & (kSize - 1)) + kSize] = b;  // the second mapping
  }
  void write(uint64_t at, uint32_t len) {
    for (int i = 0; i < 4; ++i) put(at + i, static_cast<uint8_t>(len >> (8 * i)));
  }
  std::vector<uint8_t> data_;
  uint64_t consumer_ = 0;
  uint64_t producer_ = 0;
};

struct Seen {
  std::vector<std::string> records;
  std::vector<uint64_t> consumer_during;  // the published position while each record was handled
};

RingRecordHandler collect(Seen& seen, FakeRing& ring) {
  return [&seen, &ring](const void* data, size_t size) {
    seen.records.emplace_back(static_cast<const char*>(data), size);
    seen.consumer_during.push_back(ring.consumer());
  };
}

TEST(RingReader, HandsOverCommittedRecordsInOrder) {
  FakeRing ring;
  ring.push("first");
  ring.push("the second one");
  ring.push("3");
  Seen seen;
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 1 << 20), 3u);
  EXPECT_EQ(seen.records, (std::vector<std::string>{"first", "the second one", "3"}));
  EXPECT_EQ(ring.consumer(), 16u + 24u + 16u);  // each record: 8-byte header, rounded up to 8
}

TEST(RingReader, StopsAtARecordStillBeingWrittenAndResumesThere) {
  FakeRing ring;
  ring.push("done");
  const uint64_t busy = ring.push("reserved", BPF_RINGBUF_BUSY_BIT);
  ring.push("after");
  Seen seen;
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 1 << 20), 1u);
  EXPECT_EQ(ring.consumer(), busy);  // the reserved record's memory stays the kernel's
  ring.commit(busy, 8);
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 1 << 20), 2u);
  EXPECT_EQ(seen.records, (std::vector<std::string>{"done", "reserved", "after"}));
}

TEST(RingReader, PassesOverDiscardedRecords) {
  FakeRing ring;
  ring.push("kept");
  ring.push("discarded", BPF_RINGBUF_DISCARD_BIT);
  ring.push("kept too");
  Seen seen;
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 1 << 20), 2u);
  EXPECT_EQ(seen.records, (std::vector<std::string>{"kept", "kept too"}));
  EXPECT_EQ(ring.consumer(), 16u + 24u + 16u);
}

TEST(RingReader, ARecordThatWrapsReadsWhole) {
  FakeRing ring;
  Seen seen;
  for (int i = 0; i < 7; ++i) ring.push(std::string(24, 'a' + i));  // 7 x 32 bytes: 224 of 256
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 1 << 20), 7u);
  const std::string wraps(40, 'w');  // from 224 + 8 to past the end
  ring.push(wraps);
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 1 << 20), 1u);
  EXPECT_EQ(seen.records.back(), wraps);
}

// The point of the reader: the position other CPUs read moves once per
// publish_every bytes, not once per record.
TEST(RingReader, PublishesItsPositionOncePerBatch) {
  FakeRing ring;
  for (int i = 0; i < 6; ++i) ring.push(std::string(8, 'x'));  // 16 bytes each
  Seen seen;
  EXPECT_EQ(consume_ring(ring.view(), collect(seen, ring), 32), 6u);
  EXPECT_EQ(seen.consumer_during, (std::vector<uint64_t>{0, 0, 32, 32, 64, 64}));
  EXPECT_EQ(ring.consumer(), 96u);
}

}  // namespace
}  // namespace spanwire
