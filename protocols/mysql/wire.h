// MySQL/MariaDB client/server protocol framing: one direction's packets
// (3-byte length, sequence id, payload), payloads of 16 MiB or more joined
// from their continuation packets. Of a payload only the start spans need is
// kept (never authentication data, rows or parameter values); the rest is
// counted and skipped.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "common/tally.h"

namespace spanwire::mysql {

struct Packet {
  uint8_t seq = 0;          // the first packet's sequence id
  uint64_t length = 0;      // payload bytes, continuation packets included
  std::string head;         // the kept start of the payload
  bool head_cut = false;    // bytes of it lost
  uint64_t offset = 0;      // stream offset of the first byte
  uint64_t first_ts = 0, last_ts = 0;
  uint64_t losses_before = 0;
};

struct ReaderStats {
  Tally packets;
  Tally resyncs;
  Tally errors;
  Tally skipped_bytes;
};

class Reader {
 public:
  enum class Side { kClient, kServer };
  static constexpr size_t kMaxKept = 16 * 1024;  // an SQL text's start
  static constexpr uint32_t kMaxPayload = 0xFFFFFF;

  explicit Reader(Side side) : side_(side) {}

  void feed(std::string_view bytes, uint64_t ts);
  void gap(uint64_t n, uint64_t ts);
  void start_midstream() { lose_sync(); }
  void resume_at(uint64_t offset);
  bool in_sync() const { return state_ != State::kLost; }
  std::deque<Packet> take();
  const ReaderStats& stats() const { return stats_; }
  ReaderStats& counters() { return stats_; }

 private:
  enum class State { kHeader, kPayload, kLost };

  size_t read_header(std::string_view bytes, uint64_t ts);
  size_t read_payload(std::string_view bytes);
  size_t read_lost(std::string_view bytes);
  size_t keep_limit() const;
  void end_of_part();
  void lose_sync();

  Side side_;
  State state_ = State::kHeader;
  uint64_t pos_ = 0;
  unsigned char header_[4] = {};
  size_t header_have_ = 0;
  uint64_t part_left_ = 0;    // payload bytes left in the current packet
  bool continues_ = false;    // the current packet is 0xFFFFFF long: another part follows
  bool in_packet_ = false;
  Packet cur_;
  uint64_t resume_ = UINT64_MAX;
  std::deque<Packet> done_;
  ReaderStats stats_;
};

}  // namespace spanwire::mysql
