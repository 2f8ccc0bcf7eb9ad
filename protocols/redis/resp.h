// RESP (REdis Serialization Protocol, versions 2 and 3) framing: one
// direction of a connection fed in arbitrary pieces, split into top-level
// values. Only what spans need is kept of a value (its type, its element
// count, the first strings of a command or reply, an error's text); bulk
// payloads are counted and skipped, never stored. Explicit state machine,
// bounded memory, resynchronisation after lost bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/tally.h"

namespace spanwire::redis {

// What is kept of one top-level value.
struct Value {
  char type = 0;           // RESP type byte ('*', '+', '-', '$', '>', ...); 'i': an inline command
  int64_t elements = 0;    // aggregates: top-level element count; -1: null
  // Requests: the command name and, for the few commands whose arguments the
  // session needs (SELECT's index, CLIENT REPLY's mode), those. Replies:
  // the first string element of an array or push (pub/sub kinds), or the text
  // of a simple string. Each cut at kMaxHeadBytes.
  std::vector<std::string> head;
  std::string error;       // '-' and '!' values: the text, cut at kMaxErrorBytes
  uint64_t offset = 0;     // stream offset of the first byte
  uint64_t bytes = 0;      // size on the wire
  uint64_t first_ts = 0, last_ts = 0;
  bool had_gap = false;    // some payload bytes were lost (the framing was not)
  uint64_t losses_before = 0;  // the reader's resyncs when this value began
};

struct ReaderStats {
  Tally values;         // top-level values framed
  Tally resyncs;        // times sync was lost
  Tally errors;         // malformed input (then resynchronised)
  Tally skipped_bytes;  // bytes discarded while out of sync
};

class Reader {
 public:
  enum class Side { kRequests, kReplies };
  static constexpr size_t kMaxHeadBytes = 64;
  static constexpr size_t kMaxErrorBytes = 128;
  static constexpr size_t kMaxDepth = 32;
  static constexpr size_t kMaxLine = 64 * 1024;  // an inline command or a simple string's line
  static constexpr size_t kMaxQueued = 4096;     // values framed, not yet taken

  explicit Reader(Side side) : side_(side) {}

  void feed(std::string_view bytes, uint64_t ts);
  // `n` bytes were never seen. Inside a bulk payload sync is kept; anywhere
  // else it is lost (requests resynchronise by themselves; replies wait for
  // resume_at()).
  void gap(uint64_t n, uint64_t ts);
  // Joined mid-way: no value boundary is known.
  void start_midstream() { lose_sync(); }
  // Replies out of sync: a value begins at stream offset `offset` (the
  // session knows it from the request stream's positions). Ignored when in
  // sync or when `offset` was already passed.
  void resume_at(uint64_t offset);
  bool in_sync() const { return state_ != State::kLost; }
  // Framed values since the last call, in order.
  std::deque<Value> take();
  uint64_t position() const { return pos_; }
  const ReaderStats& stats() const { return stats_; }
  ReaderStats& counters() { return stats_; }

 private:
  enum class State { kType, kLine, kBulk, kBulkEnd, kInline, kLost };

  size_t step(std::string_view bytes, uint64_t ts);
  size_t read_lost(std::string_view bytes);
  void begin_value(char type, uint64_t ts);
  void on_line(std::string_view line, uint64_t ts);
  void on_inline(std::string_view line);
  void element_done(uint64_t ts);
  void finish_value();
  void keep_string(std::string_view s);
  bool wants_head() const;
  void lose_sync();
  void malformed();
  size_t find_request_start(std::string_view bytes) const;

  Side side_;
  State state_ = State::kType;
  uint64_t pos_ = 0;  // stream offset of the next byte
  uint64_t line_start_ = 0;
  char type_ = 0;     // type of the element whose line is being read
  std::string line_;  // the current line, or the start of the bulk string being kept (bounded)
  bool line_cut_ = false;  // lines: longer than kept; bulk strings: not kept
  uint64_t bulk_left_ = 0;
  int crlf_have_ = 0;  // of the CRLF that ends a bulk string
  struct Open {
    int64_t left;    // elements still to come
    bool attribute;  // a RESP3 attribute: a prefix of the next element
  };
  std::vector<Open> stack_;
  bool in_value_ = false;
  Value cur_;
  uint64_t resume_ = UINT64_MAX;  // replies: where a value begins, when lost
  std::deque<Value> done_;
  ReaderStats stats_;
};

}  // namespace spanwire::redis
