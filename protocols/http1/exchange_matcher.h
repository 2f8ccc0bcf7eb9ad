// Pairs the requests and responses of one HTTP/1.x connection.
//
// Owns one Parser per direction. A request counts as pending as soon as its head is
// parsed (its answer may come before its body ends), and every pending request queues
// its method and first_ts with the response parser, so HEAD/CONNECT answers are framed
// right even when pipelined. A response is paired when its head is parsed:
//  - in sync: FIFO, the oldest pending request (HTTP/1 answers in order);
//  - older than every pending request (first_ts): an orphan, counted and dropped;
//  - right after the response stream lost sync (Message::after_resync): the latest
//    pending request with first_ts <= the response's; older pending ones are emitted
//    unanswered (their answers were lost);
//  - the oldest requests dropped at kMaxPending still owe their answers, which come
//    first: each is skipped (counted), so no later request is paired with it;
//  - no request pending at all: it waits (at most kMaxWaitingResponses) for the next
//    request, since the two directions are captured independently; it is an orphan if
//    that request is newer than it, or at close().
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
  uint64_t exchanges = 0;         // Exchange objects emitted, answered or not
  uint64_t unanswered = 0;        // ... of which without a response
  uint64_t orphan_responses = 0;  // final responses dropped for lack of a plausible request
  uint64_t informational = 0;     // 1xx responses other than 101
  uint64_t dropped_over_bound = 0;  // requests beyond kMaxPending in flight: no exchange, answer skipped
};

class ExchangeMatcher {
 public:
  static constexpr size_t kMaxPending = 1024;         // requests awaiting an answer
  static constexpr size_t kMaxOwedMethods = 65536;    // methods of dropped requests kept for framing
  static constexpr size_t kMaxWaitingResponses = 16;  // responses awaiting a request
  static constexpr size_t kMaxInterim = 4;

  explicit ExchangeMatcher(Limits limits = {});

  void feed_request(std::string_view data, uint64_t ts);
  void feed_response(std::string_view data, uint64_t ts);
  void gap_request(uint64_t n, uint64_t ts);
  void gap_response(uint64_t n, uint64_t ts);
  void start_midstream();  // both parsers resync at start
  void close(uint64_t ts);  // flush: pending requests become unanswered exchanges
  std::vector<Exchange> take_exchanges();
  const MatcherStats& stats() const { return stats_; }
  const ParserStats& request_stats() const { return requests_.stats(); }
  const ParserStats& response_stats() const { return responses_.stats(); }

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
  enum class Answer { kAwaiting, kAssigned, kUnanswered };

  // A request whose head has been seen, until its exchange is emitted.
  struct Pending {
    uint64_t request_offset = 0;   // identifies the request in its stream
    uint64_t request_ts = 0;       // request first_ts
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
  Pending* choose_request(const Message& head);
  void assign(Pending& entry, uint64_t offset, int status);
  void mark_unanswered(Pending& entry);
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
  uint64_t request_resyncs_seen_ = 0;   // request parser resyncs already accounted for
  bool method_queue_dirty_ = false;     // the response parser's queue needs a rebuild
  bool upgraded_ = false;
  bool closed_ = false;
};

}  // namespace spanwire::http1
