// PostgreSQL protocol 3.0 framing: one direction's messages (a type byte
// and a length, or untyped during startup), fed in arbitrary pieces. Of a
// body only the start that spans need is kept, and never anything from an
// authentication message; the rest is counted and skipped.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "common/tally.h"

namespace spanwire::postgres {

struct Message {
  char type = 0;         // 0: an untyped startup-phase message; 1: the one-byte SSL/GSS answer
  uint32_t length = 0;   // body bytes (after the length field)
  std::string body;      // the kept start of the body
  bool body_cut = false; // more body than kept, or bytes of it lost
  uint64_t offset = 0;   // stream offset of the first byte
  uint64_t first_ts = 0, last_ts = 0;
  uint64_t losses_before = 0;  // the reader's resyncs when it began
};

struct ReaderStats {
  Tally messages;
  Tally resyncs;
  Tally errors;
  Tally skipped_bytes;
};

class Reader {
 public:
  enum class Side { kFrontend, kBackend };
  static constexpr uint32_t kMaxLength = 1U << 30;
  static constexpr size_t kMaxSql = 16 * 1024;  // Query/Parse text kept

  explicit Reader(Side side) : side_(side) {}

  // The next message has no type byte (the frontend's startup phase).
  void expect_untyped() { untyped_next_ = true; }
  // The next message is one raw byte (the backend's answer to SSLRequest/GSSENCRequest).
  void expect_single_byte() { single_byte_next_ = true; }
  void feed(std::string_view bytes, uint64_t ts);
  void gap(uint64_t n, uint64_t ts);
  void start_midstream() { lose_sync(); }
  // Out of sync: a message begins at stream offset `offset`.
  void resume_at(uint64_t offset);
  bool in_sync() const { return state_ != State::kLost; }
  std::deque<Message> take();
  const ReaderStats& stats() const { return stats_; }
  ReaderStats& counters() { return stats_; }

 private:
  enum class State { kHeader, kBody, kLost };

  size_t read_header(std::string_view bytes, uint64_t ts);
  size_t read_body(std::string_view bytes);
  size_t read_lost(std::string_view bytes);
  size_t keep_limit(char type) const;
  bool plausible_start(std::string_view bytes) const;
  void finish();
  void lose_sync();

  Side side_;
  State state_ = State::kHeader;
  bool untyped_next_ = false;
  bool single_byte_next_ = false;
  uint64_t pos_ = 0;
  unsigned char header_[5] = {};
  size_t header_have_ = 0;
  size_t header_size_ = 5;
  uint64_t body_left_ = 0;
  Message cur_;
  uint64_t resume_ = UINT64_MAX;
  std::deque<Message> done_;
  ReaderStats stats_;
};

}  // namespace spanwire::postgres
