// Reassembles one direction of a connection from chunks tagged with their byte
// position. Chunks usually arrive in order; a chunk ahead of the expected
// position waits (bounded in bytes and time) for the ones before it. Bytes the
// kernel could not copy, and ranges that never arrive, reach the consumer as
// gaps so the parser can skip or resynchronise instead of misparsing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace spanwire {

class Metrics;

class StreamConsumer {
 public:
  virtual ~StreamConsumer() = default;
  virtual void on_bytes(std::string_view bytes, uint64_t ts) = 0;
  virtual void on_gap(uint64_t length, uint64_t ts) = 0;
};

class StreamBuffer {
 public:
  struct Limits {
    size_t max_pending_bytes = 256 * 1024;   // out-of-order bytes held at most
    uint64_t gap_timeout_ns = 100'000'000;   // how long a hole may wait for its bytes
  };

  StreamBuffer(Limits limits, Metrics& metrics) : limits_(limits), metrics_(metrics) {}

  // Where the stream starts: 0 for connections seen from their start; for a
  // socket joined mid-way, the first chunk's position is taken as the start.
  void start_at(uint64_t pos) {
    start_ = next_pos_ = pos;
    started_ = true;
  }
  // Counting starts over at `pos` (a connection that switched to TLS
  // plaintext); whatever waited behind a hole is dropped.
  void restart_at(uint64_t pos) {
    pending_.clear();
    pending_bytes_ = 0;
    started_ = false;
    start_at(pos);
  }
  // `length` bytes at next_pos() go by undelivered (a body the session
  // announced it only counts). Only in order, with nothing waiting.
  bool skip(uint64_t pos, uint64_t length) {
    if (!started_ || pos != next_pos_ || !pending_.empty()) return false;
    next_pos_ += length;
    return true;
  }
  bool started() const { return started_; }
  uint64_t start() const { return start_; }  // position of the first byte delivered

  // [pos, pos + length) moved; the first bytes.size() bytes are present.
  // `now` is the monotonic arrival time used for gap timeouts. `on_purpose`:
  // the missing bytes were counted and left uncopied by the kernel (sendfile,
  // a body of announced length), not lost.
  void add(uint64_t pos, std::string_view bytes, uint64_t length, uint64_t ts, uint64_t now,
           StreamConsumer& out, bool on_purpose = false);
  // Gives up on holes older than the timeout (or all holes when force).
  void flush_stale(uint64_t now, StreamConsumer& out, bool force = false);
  // The stream ended after `total` bytes (the kernel's count at close): bytes
  // past the last chunk seen were lost, and reach the consumer as a gap. A
  // stream joined mid-way and never seen gets a 1-byte gap ("unknown") when
  // it moved at all.
  void end_at(uint64_t total, uint64_t ts, StreamConsumer& out);
  // The stream ended with no count from the kernel while events were being
  // lost: bytes past the last chunk may be missing. The consumer gets a
  // 1-byte gap standing for "unknown, possibly none" (nothing follows it).
  void end_maybe_lost(uint64_t ts, StreamConsumer& out);

  uint64_t next_pos() const { return next_pos_; }
  size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct Chunk {
    std::string bytes;
    uint64_t length;
    uint64_t ts;
    uint64_t arrived;
    bool on_purpose;
  };
  void deliver(uint64_t pos, std::string_view bytes, uint64_t length, uint64_t ts, StreamConsumer& out,
               bool on_purpose);
  void drain(StreamConsumer& out);
  void skip_to_first_pending(StreamConsumer& out);

  Limits limits_;
  Metrics& metrics_;
  bool started_ = false;
  uint64_t start_ = 0;
  uint64_t next_pos_ = 0;
  std::map<uint64_t, Chunk> pending_;
  size_t pending_bytes_ = 0;
};

}  // namespace spanwire
