// Incremental HTTP/1.x parser for one direction of one connection.
//
// Bytes go in through feed()/gap()/close() in stream order; completed messages come
// out of take_messages(). Bodies are counted, never stored. Besides messages not yet
// taken, a parser buffers only the head (or trailer section) being assembled and, when
// holding after an upgrade request, the held input: each at most Limits::max_header_bytes.
// Feed boundaries never change the result: any split of the same stream yields the same
// messages (timestamps aside, which come from the chunks).
//
// Trailer fields of chunked bodies are kept in Message::trailers, not appended to headers.
#pragma once

#include <cstdint>
#include <optional>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/protocol_counters.h"
#include "http1/detect.h"
#include "http1/fifo.h"
#include "http1/message.h"

namespace spanwire::http1 {

// A piece of one direction's byte stream: bytes, or a gap of `gap` bytes when `bytes`
// is empty. `ts` is the caller's timestamp of the chunk it came from.
struct StreamPiece {
  std::string bytes;
  uint64_t gap = 0;
  uint64_t ts = 0;
};

// True when the comma-separated field value `list` (Upgrade, Connection, ...)
// has an element equal to `token`, ASCII case-insensitively (RFC 9110 5.6.1).
bool list_contains(std::string_view list, std::string_view token);

class Parser {
 public:
  explicit Parser(Kind kind, Limits limits = {});

  // Bytes that follow the previous ones directly in the stream; ts = caller's timestamp.
  void feed(std::string_view data, uint64_t ts);
  // `n` bytes of the stream are missing here (lost or deliberately not copied).
  void gap(uint64_t n, uint64_t ts);
  // The stream ended: completes a close-delimited body, emits any other message in
  // progress as incomplete. Later input is ignored.
  void close(uint64_t ts);
  // Response parsers only: method of the next request awaiting a response, in order.
  void expect_response_to(std::string_view method);
  // With the request's first_ts. A response whose head follows a loss of
  // sync then answers the latest queued request sent no later than it (older ones lost
  // their answers and leave the queue), and a response older than every queued request
  // takes none: the rule ExchangeMatcher pairs by, applied before body framing so that
  // e.g. a HEAD response is framed right even after lost responses. The one-argument
  // form queues with request_ts 0 (plain FIFO).
  void expect_response_to(std::string_view method, uint64_t request_ts);
  // Completed messages since the last call, in stream order.
  std::vector<Message> take_messages();
  const ParserStats& stats() const { return stats_; }

  // Bytes ahead that are the rest of a Content-Length body: only counted,
  // so a capture stage need not deliver them (skip_body()).
  struct BodySpan {
    uint64_t offset;  // stream offset of the next body byte
    uint64_t length;
  };
  std::optional<BodySpan> body_ahead() const {
    if (state_ != State::kBodyLength) return std::nullopt;
    return BodySpan{position_, remaining_};
  }
  // `n` body bytes went by undelivered, as body_ahead() allowed. False (and
  // nothing done) when they are not all body: the caller reports a gap.
  bool skip_body(uint64_t n, uint64_t ts);
  // From now on the counts also add to HTTP/1's shared counters.
  void attach_counters(ProtocolCounters& counters);
  // After 101 Switching Protocols, a CONNECT 2xx, or upgrade(): further bytes are not
  // HTTP/1 (ignored, or kept for the owner: keep_bytes_after_upgrade).
  bool upgraded() const { return state_ == State::kUpgraded; }
  // Start resynchronising: the stream was joined mid-way.
  void start_midstream();

  Kind kind() const { return kind_; }
  // The message whose head is parsed but whose body is still arriving; nullptr otherwise.
  // Lets a caller learn about a request/response as soon as its head is known.
  const Message* in_progress() const { return has_message_ ? &message_ : nullptr; }
  // Response parsers: forget queued methods (the owner rebuilds the queue after losses).
  void clear_expected_responses() { expected_methods_.clear(); }
  size_t expected_responses() const { return expected_methods_.size(); }
  // Request parsers: after a request that may switch protocols (CONNECT, or an Upgrade
  // header), hold further bytes (up to Limits::max_header_bytes, the rest becomes a gap)
  // until the owner knows the answer: upgrade() if it was accepted, resume() if not.
  // Off by default, since a standalone parser has no way to learn the answer.
  void hold_after_upgrade_requests(bool enable) { hold_after_upgrade_ = enable; }
  bool holding_for_upgrade() const { return state_ == State::kHeldForUpgrade; }
  // The connection switched protocols: finish like close() and ignore further bytes.
  void upgrade();
  // The upgrade was declined: parse the held bytes (and what follows) as HTTP/1 again.
  void resume();
  // While resynchronising, take the start of every feed() as a possible message start,
  // besides line starts. For an owner that feeds one write at a time: a writer starts
  // a message with a new write far more often than inside one, and a body need not end
  // with a newline. Off by default: it makes the result depend on feed boundaries.
  void feeds_may_begin_messages(bool enable) { feeds_may_begin_messages_ = enable; }
  // Stream position of the next byte (every byte fed or declared missing so far).
  uint64_t position() const { return position_; }
  // Offset of the first byte that may still begin a head not reported yet: the start
  // of a head being assembled or of held input, else position().
  uint64_t unreported_from() const;
  // Sync was lost (gap, garbage, start_midstream) and no head was found since:
  // the bytes skipped meanwhile may have held whole messages.
  bool lost_sync() const { return lost_sync_; }
  // Keep the bytes that follow a protocol switch (held input included) instead of
  // discarding them, for an owner that parses the new protocol (h2c upgrade). The
  // owner must take them with take_upgraded_bytes() as they come: they are not bounded.
  void keep_bytes_after_upgrade(bool enable) { keep_after_upgrade_ = enable; }
  std::vector<StreamPiece> take_upgraded_bytes() { return std::exchange(upgraded_bytes_, {}); }

 private:
  enum class State {
    kIdle,            // synchronised, between messages: a start line must come next
    kResync,          // lost: looking for a line start that begins a valid start line
    kStartLine,       // inside a candidate start line, judged byte by byte
    kHeaders,         // inside header field lines, until the empty line
    kBodyLength,      // Content-Length body: remaining_ bytes to go
    kBodyUntilClose,  // response body delimited by connection close
    kChunkSize,       // hex digits of a chunk-size line
    kChunkExtension,  // rest of a chunk-size line (extensions), skipped
    kChunkSizeLf,     // LF after the CR that ended a chunk-size line
    kChunkData,       // chunk payload: remaining_ bytes to go
    kChunkDataCr,     // CRLF after the chunk payload
    kChunkDataLf,
    kTrailers,        // trailer field lines after the last chunk, until the empty line
    kHeldForUpgrade,  // request parser waiting to learn whether the upgrade happened
    kUpgraded,        // no longer HTTP/1
    kClosed,          // stream ended
  };

  struct Framing;  // what a head's fields say about its body (parser.cpp)

  // How the message whose head was just parsed continues; set by begin_body().
  enum class After { kNextMessage, kUpgrade, kHoldForUpgrade };

  struct ExpectedResponse {
    std::string method;
    uint64_t request_ts = 0;
  };


  // Per-state handlers: consume a prefix of `data`, return its length. A handler may
  // return 0 only after changing state, so feed() always makes progress.
  size_t on_idle(std::string_view data, uint64_t ts);
  size_t on_resync(std::string_view data, uint64_t ts);
  size_t on_start_line(std::string_view data);
  size_t on_field_lines(std::string_view data, uint64_t ts);
  size_t on_body(std::string_view data, uint64_t ts);
  size_t on_chunk_framing(std::string_view data, uint64_t ts);
  size_t on_held(std::string_view data, uint64_t ts);
  size_t on_upgraded(std::string_view data, uint64_t ts);

  void begin_candidate(uint64_t ts, bool resyncing);
  void begin_at_feed_start();
  void reject_candidate(bool at_line_start);
  void on_head_complete(uint64_t ts);
  Message head_so_far(uint64_t ts) const;
  void adopt_head(Message m);
  void cut_head(uint64_t ts, bool at_line_start);
  void report_cut_head(uint64_t ts);
  std::string take_expected_method();
  static bool read_framing(const std::vector<Header>& headers, Framing& framing);
  void begin_body(const Framing& framing);
  void end_chunk_size_line();
  void on_trailers_complete();
  void complete_message();
  void emit(bool complete);
  void lose_sync(bool at_line_start, bool is_error);
  void end_stream(State final_state);
  void hold_gap(uint64_t n, uint64_t ts);

  Kind kind_;
  Limits limits_;
  State state_ = State::kIdle;
  ParserStats stats_;
  uint64_t position_ = 0;       // stream offset of the next byte
  bool at_line_start_ = true;   // kResync: the next byte starts a line
  bool lost_sync_ = false;      // sync was lost since the last parsed head
  bool feeds_may_begin_messages_ = false;

  StartLineScanner scanner_;
  bool candidate_resyncing_ = false;  // the current candidate was found while resynchronising
  uint64_t candidate_offset_ = 0;
  uint64_t candidate_ts_ = 0;

  std::string head_;         // head (or trailer section) being assembled; bounded
  size_t fields_begin_ = 0;  // end of the start line within head_ (0 for trailers)
  size_t line_begin_ = 0;    // start of the current field line within head_
  // The complete field lines of head_, located as each completed (offsets
  // into head_: it may grow and move). Name empty: an obs-fold continuation.
  struct FieldLine {
    uint32_t name_begin, name_end, value_begin, value_size;
  };
  std::vector<FieldLine> lines_;
  static std::optional<FieldLine> field_line(std::string_view head, std::string_view line, bool has_previous_field);
  void collect_fields(std::vector<Header>& out) const;

  bool has_message_ = false;  // message_ has a parsed head
  Message message_;
  After after_ = After::kNextMessage;
  uint64_t remaining_ = 0;       // body / chunk bytes still to come
  uint64_t chunk_size_ = 0;
  int chunk_digits_ = 0;
  size_t chunk_line_bytes_ = 0;  // chunk extension bytes on the current line (bounded)

  Fifo<ExpectedResponse> expected_methods_;
  bool hold_after_upgrade_ = false;
  std::vector<StreamPiece> held_;
  size_t held_bytes_ = 0;
  uint64_t held_from_ = 0;  // stream offset of the first held byte

  bool keep_after_upgrade_ = false;
  std::vector<StreamPiece> upgraded_bytes_;  // bytes after the switch, for the owner

  std::vector<Message> done_;
};

}  // namespace spanwire::http1
