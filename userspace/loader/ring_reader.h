// Reads the kernel's event ring (BPF_MAP_TYPE_RINGBUF) in place, and tells
// the kernel how far it has read once per batch of records, not per record.
//
// Why not libbpf's ring_buffer__consume (1.1 in Debian 12): it stores the
// consumer position after every record. Every BPF program that reserves a
// record or asks how much waits (the wakeup rule, the shedding thresholds)
// reads that position from another CPU, so each store moves its cache line
// between the reader and the producers, once per record on both sides.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace spanwire {

// Receives one record (the bytes are valid during the call only).
using RingRecordHandler = std::function<void(const void* data, size_t size)>;

// One ring's memory as the kernel maps it: the consumer position (ours to
// write), the producer position, and the data area, mapped twice back to
// back so that a record that wraps reads as contiguous bytes.
struct RingView {
  uint64_t* consumer_pos = nullptr;
  const uint64_t* producer_pos = nullptr;
  const uint8_t* data = nullptr;
  uint64_t mask = 0;  // data size - 1 (a power of two)
};

// Hands every committed record after the consumer position to `on_record`,
// in order, and returns how many. Stops at the first record still being
// written. Discarded records are passed over. The consumer position is
// published after each `publish_every` bytes of records and when the walk
// ends, with release order: a record's memory goes back to the kernel only
// after it was handled.
size_t consume_ring(const RingView& ring, const RingRecordHandler& on_record, uint64_t publish_every);

// A shared mapping of a file descriptor, unmapped with the object.
class Mapping {
 public:
  Mapping(int fd, size_t len, int prot, off_t offset);  // throws StartupError
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }

 private:
  void* addr_;
  size_t len_;
};

class RingReader {
 public:
  // Maps the ring of `map_fd` (a BPF_MAP_TYPE_RINGBUF); throws StartupError
  // with one line saying what failed. The map fd itself is what to poll:
  // it is readable when the kernel signalled records.
  explicit RingReader(int map_fd);
  ~RingReader() = default;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // Handles every committed record; returns how many.
  size_t consume(const RingRecordHandler& on_record) { return consume_ring(view_, on_record, publish_every_); }

  // The consumer position is published per 64 KiB, or per 1/64 of a smaller
  // ring: far below the wakeup step (1/16 of the ring) and the shedding
  // thresholds (1/4 and more), so the kernel sees the reader's progress in
  // time for both.
  static constexpr uint64_t kPublishBytes = 64 * 1024;

 private:
  RingReader(int map_fd, uint32_t data_bytes, size_t page);

  Mapping consumer_page_;  // the consumer position: ours to write
  Mapping producer_area_;  // the producer position, then the data area twice
  RingView view_;
  uint64_t publish_every_;
};

}  // namespace spanwire
