// Pairs the requests and responses of one HTTP/1.x connection.
//
// Owns one Parser per direction. A request counts as pending as soon as its head is
// parsed (its answer may come before its body ends), and every pending request queues
// its method and first_ts with the response parser, so HEAD/CONNECT answers are framed
// right even when pipelined. A response is paired when its head is parsed, and only
// when the pairing is certain:
//  - while no message of either direction was lost: first-in-first-out, the oldest
//    pending request (HTTP/1 answers in order). Where chunks were placed (see
//    PeerPositions), a response moved before the oldest pending request is an orphan,
//    and one moved after two pending requests shows the client pipelines;
//  - after a loss of sync (a response after a gap, or the oldest pending request after
//    one), the count of messages lost in each direction is unknown, so first-in-first-out
//    would shift every later pair. On a connection seen not to pipeline, a response
//    answers the newest request that started before the response moved, which the
//    placements prove; older pending requests had their answers lost. Without placements,
//    or on a pipelining connection, the response and the pending requests it could
//    answer are dropped and counted (no span rather than a wrong one), and pairing stays
//    suspended until the connection closes;
//  - the oldest requests dropped at kMaxPending still owe their answers, which come
//    first: each is skipped (counted), so no later request is paired with it;
//  - no request pending at all: it waits (at most kMaxWaitingResponses) for the next
//    request, since the two directions are captured independently; it is an orphan if
//    that request could not have caused it. Dropped still waiting (past the bound, or at
//    close()), it counts as a lost answer: pairing is no longer in order after it.
// A request left without an answer is reported unanswered only when no response could
// have been lost, or dropped unpaired, after it was sent; otherwise it is dropped and
// counted.
// 1xx other than 101 are interim: counted, attached to the oldest pending request, not
// paired. 101 (and CONNECT 2xx) pair, then both parsers stop. After a request carrying
// Upgrade or CONNECT, the request parser holds further input until the answer is known
// (replayed as HTTP/1 if declined). Exchanges come out in request order once both halves
// are complete; close() flushes what remains.
#pragma once

#include <cstddef>
#include <cstdint>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/peer_positions.h"
#include "common/protocol_counters.h"
#include "http1/message.h"
#include "http1/parser.h"

namespace spanwire::http1 {

struct Exchange {
  Message request;
  std::optional<Message> response;  // empty: unanswered
  // 1xx responses (other than 101) received for this request before its final response,
  // e.g. "100 Continue"; at most ExchangeMatcher::kMaxInterim are kept.
  std::vector<Message> interim;
};

struct MatcherStats {
  Tally exchanges;         // Exchange objects emitted, answered or not
  Tally unanswered;        // ... of which without a response
  Tally orphan_responses;  // final responses dropped for lack of a plausible request
  Tally informational;     // 1xx responses other than 101
  Tally dropped_over_bound;  // requests beyond kMaxPending in flight: no exchange, answer skipped
  // After a loss of sync, no exchange: requests whose answer was lost or cannot be
  // told with certainty, and responses whose request cannot.
  Tally requests_unpaired_after_loss;
  Tally responses_unpaired_after_loss;
};

class ExchangeMatcher {
 public:
  static constexpr size_t kMaxPending = 1024;         // requests awaiting an answer
  static constexpr size_t kMaxOwedMethods = 65536;    // methods of dropped requests kept for framing
  static constexpr size_t kMaxWaitingResponses = 16;  // responses awaiting a request
  static constexpr size_t kMaxInterim = 4;
  static constexpr size_t kMaxLossesKept = 256;  // request-stream losses remembered while requests await

  explicit ExchangeMatcher(Limits limits = {});

  void feed_request(std::string_view data, uint64_t ts);
  void feed_response(std::string_view data, uint64_t ts);
  void gap_request(uint64_t n, uint64_t ts);
  void gap_response(uint64_t n, uint64_t ts);
  // Body bytes a capture stage did not deliver after body_ahead() announced
  // them; a gap if they were not body after all.
  void skip_request(uint64_t n, uint64_t ts);
  void skip_response(uint64_t n, uint64_t ts);
  std::optional<Parser::BodySpan> request_body_ahead() const { return requests_.body_ahead(); }
  std::optional<Parser::BodySpan> response_body_ahead() const { return responses_.body_ahead(); }
  // Where the next chunk of a direction sits against the other one (before feeding it).
  void place_request_chunk(const ChunkPlace& place) { request_places_.note(place); }
  void place_response_chunk(const ChunkPlace& place) { response_places_.note(place); }
  void start_midstream();  // both parsers resync at start
  void close(uint64_t ts);  // flush: pending requests become unanswered exchanges
  std::vector<Exchange> take_exchanges();
  const MatcherStats& stats() const { return stats_; }
  const ParserStats& request_stats() const { return requests_.stats(); }
  const ParserStats& response_stats() const { return responses_.stats(); }
  // From now on the counts also add to HTTP/1's shared counters.
  void attach_counters(ProtocolCounters& counters);

  // The connection switched protocols (101, CONNECT 2xx); both parsers stopped.
  bool upgraded() const { return upgraded_; }
  // Keep the bytes each direction carries after the switch (see Parser) for an owner
  // that parses the new protocol; it takes them after every input.
  void keep_bytes_after_upgrade() {
    requests_.keep_bytes_after_upgrade(true);
    responses_.keep_bytes_after_upgrade(true);
  }
  std::vector<StreamPiece> take_upgraded_request_bytes() { return requests_.take_upgraded_bytes(); }
  std::vector<StreamPiece> take_upgraded_response_bytes() { return responses_.take_upgraded_bytes(); }

 private:
  // kLost: no exchange; the answer was lost, or which one it was cannot be told.
  enum class Answer { kAwaiting, kAssigned, kLost };

  // A request whose head has been seen, until its exchange is emitted.
  struct Pending {
    uint64_t request_offset = 0;   // identifies the request in its stream
    uint64_t request_ts = 0;       // request first_ts
    std::optional<uint64_t> request_pos;   // absolute stream position of its first byte
    std::optional<uint64_t> response_pos;  // the response stream's position when it moved
    bool after_loss = false;       // requests before it may have been lost
    uint64_t response_losses_at_add = 0;
    std::string method;
    Message request;               // the head alone until request_done
    bool request_done = false;
    Answer answer = Answer::kAwaiting;
    uint64_t response_offset = 0;  // identifies the assigned response (kAssigned)
    int response_status = 0;
    std::optional<Message> response;  // the assigned response, once complete
    std::vector<Message> interim;
    bool holds_request_stream = false;  // the request parser holds input after this request
  };

  // A final response that arrived while no request was awaiting an answer: its request
  // may still come (the directions are captured independently).
  struct WaitingResponse {
    uint64_t offset = 0;
    uint64_t first_ts = 0;
    int status = 0;
    std::optional<uint64_t> request_pos;   // the request stream's position when it moved
    std::optional<uint64_t> response_pos;  // absolute position of its first byte
    bool after_resync = false;
    std::optional<Message> message;
  };

  // Answers owed to requests dropped at kMaxPending, oldest first: their methods
  // (HEAD answers have no body) and send times, for the response parser.
  struct Owed {
    std::string method;
    uint64_t request_ts = 0;
  };

  void reconcile();
  void drop_oldest_pending();
  bool skip_answer_to_dropped(const Message& head);
  bool drain_requests();
  bool drain_responses();
  bool is_new_request(const Message& m) const;
  bool is_new_response(const Message& m) const;
  void add_request(Message request, bool done);
  void on_request_done(Message request);
  void on_response_head(const Message& head);
  void on_response_done(Message response);
  Pending* choose_request(const WaitingResponse& r, bool& wait);
  void wait_for_requests(const WaitingResponse& r);
  Pending* pair_in_order(const WaitingResponse& r, Pending& oldest);
  Pending* pair_after_loss(const WaitingResponse& r);
  void abandon(const WaitingResponse& r);
  void drop_unpaired(const WaitingResponse& r);
  void adopt_waiting();
  static bool could_answer(const Pending& entry, const WaitingResponse& r);
  bool answer_may_be_lost(const Pending& entry) const;
  void note_response_loss();
  void note_response_loss_until(std::optional<uint64_t> end);
  void note_request_loss(uint64_t from_offset);
  bool request_lost_between(uint64_t from, uint64_t to) const;
  void note_pipelining(const Pending& entry);
  void assign(Pending& entry, uint64_t offset, int status);
  void mark_lost(Pending& entry);
  void settle_upgrade(Pending& entry);
  void switch_protocols();
  Pending* first_awaiting();
  Pending* find_request(uint64_t offset);
  void rebuild_method_queue();
  void emit_ready();
  void emit_front();

  Parser requests_;
  Parser responses_;
  Fifo<Pending> pending_;
  Fifo<WaitingResponse> waiting_;
  Fifo<Owed> owed_;                 // answers owed to dropped requests, in order
  uint64_t owed_beyond_methods_ = 0;  // more owed answers, past kMaxOwedMethods
  std::vector<Exchange> ready_;
  MatcherStats stats_;
  std::optional<uint64_t> last_request_head_;   // offset of the newest request head seen
  std::optional<uint64_t> last_response_head_;  // offset of the newest response head seen
  PeerPositions request_places_;
  PeerPositions response_places_;
  // Pairing is first-in-first-out while true; false from a loss of sync until a
  // response is paired from placements.
  bool certain_ = true;
  bool pipelining_seen_ = false;     // the client had two requests out at once
  bool one_at_a_time_seen_ = false;  // a response moved between two consecutive requests
  std::optional<uint64_t> newest_request_response_pos_;  // response_pos of the newest request
  uint64_t response_losses_ = 0;  // times the response stream lost sync
  std::optional<uint64_t> response_loss_end_;  // absolute end of the latest such loss
  std::vector<uint64_t> request_loss_starts_;   // absolute, where the request stream lost sync
  bool losses_forgotten_ = false;  // request_loss_starts_ overflowed: no more pairing after a loss
  uint64_t request_resyncs_seen_ = 0;   // request parser resyncs already accounted for
  uint64_t response_resyncs_seen_ = 0;  // response parser resyncs already accounted for
  bool method_queue_dirty_ = false;     // the response parser's queue needs a rebuild
  bool upgraded_ = false;
  bool closed_ = false;
};

}  // namespace spanwire::http1
