#include "http1/exchange_matcher.h"

#include <utility>

namespace spanwire::http1 {

ExchangeMatcher::ExchangeMatcher(Limits limits)
    : requests_(Kind::kRequest, limits), responses_(Kind::kResponse, limits) {
  // Bytes after an Upgrade/CONNECT request wait until its answer says what they are.
  requests_.hold_after_upgrade_requests(true);
}

void ExchangeMatcher::feed_request(std::string_view data, uint64_t ts) {
  requests_.feed(data, ts);
  reconcile();
}

void ExchangeMatcher::feed_response(std::string_view data, uint64_t ts) {
  responses_.feed(data, ts);
  reconcile();
}

void ExchangeMatcher::gap_request(uint64_t n, uint64_t ts) {
  requests_.gap(n, ts);
  method_queue_dirty_ = true;  // requests may be lost: realign the methods with what we know
  reconcile();
}

void ExchangeMatcher::gap_response(uint64_t n, uint64_t ts) {
  responses_.gap(n, ts);
  reconcile();
}

void ExchangeMatcher::start_midstream() {
  requests_.start_midstream();
  responses_.start_midstream();
  reconcile();
}

void ExchangeMatcher::close(uint64_t ts) {
  if (closed_) return;
  closed_ = true;
  requests_.close(ts);
  responses_.close(ts);
  reconcile();
  stats_.orphan_responses += waiting_.size();
  waiting_.clear();
  while (!pending_.empty()) emit_front();
}

std::vector<Exchange> ExchangeMatcher::take_exchanges() { return std::exchange(ready_, {}); }

// --- bookkeeping after every input ---

void ExchangeMatcher::reconcile() {
  // Draining one side can unblock the other (a response settles a held request stream,
  // an upgrade flushes a request in progress), so repeat until nothing moves.
  for (;;) {
    bool moved = drain_requests();
    moved |= drain_responses();
    if (!moved) break;
  }
  if (requests_.stats().resyncs != request_resyncs_seen_) {
    request_resyncs_seen_ = requests_.stats().resyncs;
    method_queue_dirty_ = true;
  }
  if (method_queue_dirty_) rebuild_method_queue();
  emit_ready();
}

bool ExchangeMatcher::drain_requests() {
  bool moved = false;
  // Settling a held upgrade request replays held input, which completes more requests:
  // take completed ones until none are left, so they are seen in stream order.
  for (std::vector<Message> done; !(done = requests_.take_messages()).empty();) {
    moved = true;
    const uint64_t last_offset = done.back().stream_offset;
    for (Message& m : done) on_request_done(std::move(m));
    // The request that made the parser hold its input is the last one it completed.
    if (requests_.holding_for_upgrade()) {
      if (Pending* entry = find_request(last_offset)) {
        entry->holds_request_stream = true;
        settle_upgrade(*entry);
      } else {
        requests_.resume();  // its entry is gone (evicted): nobody will learn the answer
      }
    }
  }
  // Only then announce the request in progress, as soon as its head is known: its
  // response may come before its body ends (100-continue, early error replies).
  if (const Message* head = requests_.in_progress(); head && is_new_request(*head)) {
    add_request(*head, /*done=*/false);
    moved = true;
  }
  return moved;
}

bool ExchangeMatcher::drain_responses() {
  bool moved = false;
  for (std::vector<Message> done; !(done = responses_.take_messages()).empty();) {
    moved = true;
    for (Message& m : done) on_response_done(std::move(m));
  }
  if (const Message* head = responses_.in_progress(); head && is_new_response(*head)) {
    on_response_head(*head);
    moved = true;
  }
  return moved;
}

bool ExchangeMatcher::is_new_request(const Message& m) const {
  return !last_request_head_ || m.stream_offset > *last_request_head_;
}

bool ExchangeMatcher::is_new_response(const Message& m) const {
  return !last_response_head_ || m.stream_offset > *last_response_head_;
}

// --- requests ---

void ExchangeMatcher::add_request(Message request, bool done) {
  last_request_head_ = request.stream_offset;
  if (pending_.size() >= kMaxPending) drop_oldest_pending();
  Pending& entry = pending_.emplace_back();
  entry.request_offset = request.stream_offset;
  entry.request_ts = request.first_ts;
  entry.method = request.method;
  entry.request = std::move(request);
  entry.request_done = done;
  responses_.expect_response_to(entry.method, entry.request_ts);

  // A response seen before any request was awaiting may belong to this one (each
  // direction is captured independently), unless it was sent before this request.
  while (!waiting_.empty()) {
    WaitingResponse w = std::move(waiting_.front());
    waiting_.pop_front();
    method_queue_dirty_ = true;
    if (w.first_ts < entry.request_ts) {
      ++stats_.orphan_responses;
      continue;
    }
    Pending& owner = pending_.back();
    owner.response = std::move(w.message);
    assign(owner, w.offset, w.status);
    break;
  }
}

// Bounds memory on a connection with more requests in flight than kMaxPending:
// the oldest is dropped without an exchange (counted). Emitting it unanswered
// would be a false error, and its answer, still to come first, would then be
// paired with the next request and shift every later pair. So the answer it
// owes is remembered and skipped when it comes.
void ExchangeMatcher::drop_oldest_pending() {
  Pending& oldest = pending_.front();
  if (oldest.answer == Answer::kAwaiting) {
    if (owed_.size() < kMaxOwedMethods)
      owed_.push_back({oldest.method, oldest.request_ts});
    else
      ++owed_beyond_methods_;
  }
  pending_.pop_front();
  ++stats_.dropped_over_bound;
  method_queue_dirty_ = true;
}

// A final response in sync answers the oldest dropped request that still owes
// one. After a loss of sync it is unknown which answers were lost: the
// dropped requests are older than any pending one, so theirs count as lost
// and the response is paired by time as usual.
bool ExchangeMatcher::skip_answer_to_dropped(const Message& head) {
  if (owed_.empty() && owed_beyond_methods_ == 0) return false;
  if (head.after_resync) {
    owed_.clear();
    owed_beyond_methods_ = 0;
    method_queue_dirty_ = true;
    return false;
  }
  if (!owed_.empty())
    owed_.pop_front();
  else
    --owed_beyond_methods_;
  return true;
}

void ExchangeMatcher::on_request_done(Message request) {
  if (is_new_request(request)) return add_request(std::move(request), /*done=*/true);
  if (Pending* entry = find_request(request.stream_offset)) {
    entry->request = std::move(request);
    entry->request_done = true;
  }
  // else: its entry was evicted and already emitted
}

// --- responses ---

void ExchangeMatcher::on_response_head(const Message& head) {
  last_response_head_ = head.stream_offset;
  if (is_interim_status(head.status_code)) {
    ++stats_.informational;
    Pending* entry = first_awaiting();
    if (entry && entry->interim.size() < kMaxInterim) entry->interim.push_back(head);
    return;
  }
  if (head.status_code == 101) switch_protocols();  // whoever it answers
  if (skip_answer_to_dropped(head)) return;
  if (Pending* entry = choose_request(head)) assign(*entry, head.stream_offset, head.status_code);
  if (responses_.upgraded()) switch_protocols();  // e.g. CONNECT 2xx framed by the parser
}

void ExchangeMatcher::on_response_done(Message response) {
  if (is_new_response(response)) on_response_head(response);
  for (Pending& entry : pending_) {
    if (entry.answer == Answer::kAssigned && entry.response_offset == response.stream_offset &&
        !entry.response) {
      entry.response = std::move(response);
      return;
    }
  }
  for (WaitingResponse& w : waiting_) {
    if (w.offset == response.stream_offset) {
      w.message = std::move(response);
      return;
    }
  }
  // else: interim, orphan, or its request was evicted
}

ExchangeMatcher::Pending* ExchangeMatcher::choose_request(const Message& head) {
  Pending* first = first_awaiting();
  if (first == nullptr) {
    method_queue_dirty_ = true;
    waiting_.push_back({head.stream_offset, head.first_ts, head.status_code, std::nullopt});
    if (waiting_.size() > kMaxWaitingResponses) {
      waiting_.pop_front();
      ++stats_.orphan_responses;
    }
    return nullptr;
  }
  // Latest awaiting request sent no later than the response.
  Pending* latest = nullptr;
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->answer == Answer::kAwaiting && it->request_ts <= head.first_ts) {
      latest = &*it;
      break;
    }
  }
  if (latest == nullptr) {  // predates every awaiting request: its request was never seen
    ++stats_.orphan_responses;
    method_queue_dirty_ = true;
    return nullptr;
  }
  if (!head.after_resync) return first;  // in sync: HTTP/1 answers in order
  // Responses may have been lost before this one: it most likely answers the latest
  // request sent before it, and the older ones lost their answers.
  for (Pending& entry : pending_) {
    if (&entry == latest) break;
    if (entry.answer == Answer::kAwaiting) mark_unanswered(entry);
  }
  method_queue_dirty_ = true;
  return latest;
}

void ExchangeMatcher::assign(Pending& entry, uint64_t offset, int status) {
  entry.answer = Answer::kAssigned;
  entry.response_offset = offset;
  entry.response_status = status;
  if (switches_protocols(entry.method, status)) switch_protocols();
  settle_upgrade(entry);
}

void ExchangeMatcher::mark_unanswered(Pending& entry) {
  entry.answer = Answer::kUnanswered;
  settle_upgrade(entry);
}

// Once the request that made the request parser hold its input is answered, the held
// bytes are either another protocol or more HTTP/1.
void ExchangeMatcher::settle_upgrade(Pending& entry) {
  if (!entry.holds_request_stream || entry.answer == Answer::kAwaiting) return;
  entry.holds_request_stream = false;
  const bool accepted = entry.answer == Answer::kAssigned &&
                        switches_protocols(entry.method, entry.response_status);
  if (accepted) switch_protocols();
  else requests_.resume();
}

void ExchangeMatcher::switch_protocols() {
  upgraded_ = true;
  requests_.upgrade();
  responses_.upgrade();
}

// --- helpers ---

ExchangeMatcher::Pending* ExchangeMatcher::first_awaiting() {
  for (Pending& entry : pending_) {
    if (entry.answer == Answer::kAwaiting) return &entry;
  }
  return nullptr;
}

ExchangeMatcher::Pending* ExchangeMatcher::find_request(uint64_t offset) {
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {  // usually the newest
    if (it->request_offset == offset) return &*it;
  }
  return nullptr;
}

// The response parser pops one method per final response it frames; whenever our
// pairing deviated from that plain FIFO, its queue is rebuilt from what still awaits.
void ExchangeMatcher::rebuild_method_queue() {
  method_queue_dirty_ = false;
  responses_.clear_expected_responses();
  // Answers owed beyond kMaxOwedMethods are framed by the methods that follow:
  // only a HEAD among them could be framed wrong, on a connection already
  // 65,536 answers behind.
  for (const Owed& owed : owed_) responses_.expect_response_to(owed.method, owed.request_ts);
  for (const Pending& entry : pending_) {
    if (entry.answer == Answer::kAwaiting) {
      responses_.expect_response_to(entry.method, entry.request_ts);
    }
  }
}

void ExchangeMatcher::emit_ready() {
  while (!pending_.empty()) {
    const Pending& front = pending_.front();
    const bool answered = front.answer == Answer::kAssigned && front.response.has_value();
    if (!front.request_done || !(answered || front.answer == Answer::kUnanswered)) break;
    emit_front();
  }
}

// Emits the oldest entry as it stands: an unfinished request is marked incomplete,
// a missing response leaves the exchange unanswered.
void ExchangeMatcher::emit_front() {
  Pending entry = std::move(pending_.front());
  pending_.pop_front();
  Exchange exchange;
  exchange.request = std::move(entry.request);
  if (!entry.request_done) exchange.request.complete = false;
  if (entry.answer == Answer::kAssigned) exchange.response = std::move(entry.response);
  exchange.interim = std::move(entry.interim);
  ++stats_.exchanges;
  if (!exchange.response) ++stats_.unanswered;
  ready_.push_back(std::move(exchange));
}

}  // namespace spanwire::http1
