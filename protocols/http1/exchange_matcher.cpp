#include "http1/exchange_matcher.h"

#include <algorithm>
#include <utility>

#include "http1/counters.h"

namespace spanwire::http1 {

void ExchangeMatcher::attach_counters(ProtocolCounters& c) {
  requests_.attach_counters(c);
  responses_.attach_counters(c);
  stats_.orphan_responses.attach(c.slot(counter::responses_orphaned));
  stats_.dropped_over_bound.attach(c.slot(counter::requests_dropped_in_flight));
  stats_.requests_unpaired_after_loss.attach(c.slot(counter::requests_unpaired_after_loss));
  stats_.responses_unpaired_after_loss.attach(c.slot(counter::responses_unpaired_after_loss));
}

ExchangeMatcher::ExchangeMatcher(Limits limits)
    : requests_(Kind::kRequest, limits), responses_(Kind::kResponse, limits) {
  // Bytes after an Upgrade/CONNECT request wait until its answer says what they are.
  requests_.hold_after_upgrade_requests(true);
  // The sensor feeds one syscall's bytes at a time.
  requests_.feeds_may_begin_messages(true);
  responses_.feeds_may_begin_messages(true);
}

void ExchangeMatcher::feed_request(std::string_view data, uint64_t ts) {
  const uint64_t before = requests_.position();
  const bool was_lost = requests_.lost_sync();
  requests_.feed(data, ts);
  // Garbage lost sync somewhere in this input, after the newest head at least.
  if (!was_lost && requests_.lost_sync())
    note_request_loss(std::max(before, last_request_head_ ? *last_request_head_ + 1 : 0));
  reconcile();
}

void ExchangeMatcher::feed_response(std::string_view data, uint64_t ts) {
  responses_.feed(data, ts);
  reconcile();
}

void ExchangeMatcher::gap_request(uint64_t n, uint64_t ts) {
  const uint64_t before = requests_.position();
  const bool was_lost = requests_.lost_sync();
  requests_.gap(n, ts);
  if (!was_lost && requests_.lost_sync()) note_request_loss(before);
  method_queue_dirty_ = true;  // requests may be lost: realign the methods with what we know
  reconcile();
}

void ExchangeMatcher::gap_response(uint64_t n, uint64_t ts) {
  responses_.gap(n, ts);
  if (responses_.lost_sync()) note_response_loss();  // the gap may have held responses
  reconcile();
}

void ExchangeMatcher::skip_request(uint64_t n, uint64_t ts) {
  if (!requests_.skip_body(n, ts)) return gap_request(n, ts);
  reconcile();
}

void ExchangeMatcher::skip_response(uint64_t n, uint64_t ts) {
  if (!responses_.skip_body(n, ts)) return gap_response(n, ts);
  reconcile();
}

void ExchangeMatcher::start_midstream() {
  certain_ = false;  // what came before is unknown
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
  while (!waiting_.empty()) {
    drop_unpaired(waiting_.front());
    waiting_.pop_front();
  }
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
  adopt_waiting();  // the request stream may have caught up with a waiting response
  if (requests_.stats().resyncs != request_resyncs_seen_) {
    request_resyncs_seen_ = requests_.stats().resyncs;
    method_queue_dirty_ = true;
  }
  if (responses_.stats().resyncs != response_resyncs_seen_) {
    response_resyncs_seen_ = responses_.stats().resyncs;
    note_response_loss();
  }
  if (method_queue_dirty_) rebuild_method_queue();
  emit_ready();
  // Every head before these offsets has been placed.
  request_places_.forget_before(requests_.unreported_from());
  response_places_.forget_before(responses_.unreported_from());
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
  entry.request_pos = request_places_.absolute(request.stream_offset);
  entry.response_pos = request_places_.peer_at(request.stream_offset);
  entry.after_loss = request.after_resync;
  entry.response_losses_at_add = response_losses_;
  entry.method = request.method;
  entry.request = std::move(request);
  entry.request_done = done;
  note_pipelining(entry);
  responses_.expect_response_to(entry.method, entry.request_ts);
  // A response seen before any request was awaiting may belong to this one (each
  // direction is captured independently).
  adopt_waiting();
}

// Two requests moved with no response byte moved in between (requests lost between
// them or not): the client had both out at once (or the first was never answered),
// and after a loss the newest request before a response is not necessarily the one
// it answers. Response bytes between two consecutive requests are the sign of a
// client that waits for each answer.
void ExchangeMatcher::note_pipelining(const Pending& entry) {
  if (!entry.response_pos) return;
  if (newest_request_response_pos_) {
    if (*newest_request_response_pos_ == *entry.response_pos) pipelining_seen_ = true;
    else if (!entry.after_loss) one_at_a_time_seen_ = true;
  }
  newest_request_response_pos_ = entry.response_pos;
}

void ExchangeMatcher::adopt_waiting() {
  while (!waiting_.empty()) {
    bool wait = false;
    Pending* owner = choose_request(waiting_.front(), wait);
    if (wait) return;
    WaitingResponse w = std::move(waiting_.front());
    waiting_.pop_front();
    method_queue_dirty_ = true;
    if (owner) {
      owner->response = std::move(w.message);
      assign(*owner, w.offset, w.status);
    }
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
  if (head.after_resync || !certain_) {
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
  WaitingResponse sighting;
  sighting.offset = head.stream_offset;
  sighting.first_ts = head.first_ts;
  sighting.status = head.status_code;
  sighting.request_pos = response_places_.peer_at(head.stream_offset);
  sighting.response_pos = response_places_.absolute(head.stream_offset);
  sighting.after_resync = head.after_resync;
  bool wait = !waiting_.empty();  // answers are decided in order
  Pending* entry = wait ? nullptr : choose_request(sighting, wait);
  if (wait) wait_for_requests(sighting);
  else if (entry) assign(*entry, head.stream_offset, head.status_code);
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

// The request `r` answers; nullptr when there is none (counted), or, with `wait`
// set, when that cannot be told yet.
ExchangeMatcher::Pending* ExchangeMatcher::choose_request(const WaitingResponse& r, bool& wait) {
  if (r.after_resync) certain_ = false;
  Pending* oldest = first_awaiting();
  if (oldest == nullptr && certain_) {  // its request may not have been processed yet
    wait = true;
    return nullptr;
  }
  if (certain_ && !oldest->after_loss) return pair_in_order(r, *oldest);
  certain_ = false;
  // After a loss, decide once every request byte moved before the response is
  // known, seen or lost: a request still in flight to us may be the one.
  const bool requests_known = r.request_pos
                                  ? request_places_.absolute(requests_.position()) >= r.request_pos
                                  : oldest != nullptr;
  if (!requests_known) {
    wait = true;
    return nullptr;
  }
  return pair_after_loss(r);
}

// A response that cannot be decided yet waits, in order, behind any other.
void ExchangeMatcher::wait_for_requests(const WaitingResponse& r) {
  method_queue_dirty_ = true;
  waiting_.push_back(r);
  if (waiting_.size() > kMaxWaitingResponses) {
    drop_unpaired(waiting_.front());
    waiting_.pop_front();
  }
}

// A response left unpaired before its request was known (over the bound, or
// at close) is, for the requests it may answer, a lost answer: none of them may
// be called unanswered, and the responses after it no longer pair in order.
void ExchangeMatcher::drop_unpaired(const WaitingResponse& r) {
  ++stats_.orphan_responses;
  certain_ = false;
  // Placed nowhere: any request may be its.
  note_response_loss_until(r.response_pos ? std::optional<uint64_t>(*r.response_pos + 1) : std::nullopt);
  method_queue_dirty_ = true;
}

// No message was lost since pairing was last certain: HTTP/1 answers in order.
ExchangeMatcher::Pending* ExchangeMatcher::pair_in_order(const WaitingResponse& r, Pending& oldest) {
  if (!could_answer(oldest, r)) {  // moved before the oldest request: it answers one never seen
    ++stats_.orphan_responses;
    method_queue_dirty_ = true;
    return nullptr;
  }
  for (Pending& entry : pending_) {
    if (&entry == &oldest || entry.answer != Answer::kAwaiting) continue;
    if (r.request_pos && entry.request_pos && could_answer(entry, r)) pipelining_seen_ = true;
    break;
  }
  return &oldest;
}

// After a loss the number of messages lost in each direction is unknown. A
// connection seen waiting for each answer, and never seen with two requests out
// at once, answers each request before the next is sent: a response answers the
// newest request that started before it moved, if no request can hide in a loss
// between the two.
ExchangeMatcher::Pending* ExchangeMatcher::pair_after_loss(const WaitingResponse& r) {
  method_queue_dirty_ = true;
  if (!r.request_pos) {
    abandon(r);
    return nullptr;
  }
  Pending* newest = nullptr;
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (!it->request_pos) {  // placed nowhere: no evidence
      abandon(r);
      return nullptr;
    }
    if (*it->request_pos < *r.request_pos) {
      newest = &*it;
      break;
    }
  }
  if (newest == nullptr) {  // moved before every pending request: it answers one never seen
    ++stats_.orphan_responses;
    return nullptr;
  }
  // Requests lost just before `newest` may still have been awaiting answers.
  if (pipelining_seen_ || !one_at_a_time_seen_ || losses_forgotten_ || newest->answer != Answer::kAwaiting ||
      newest->after_loss || request_lost_between(*newest->request_pos, *r.request_pos)) {
    abandon(r);
    return nullptr;
  }
  for (Pending& entry : pending_) {  // their answers were lost
    if (&entry == newest) break;
    if (entry.answer == Answer::kAwaiting) mark_lost(entry);
  }
  certain_ = true;  // every request up to this one is settled
  return newest;
}

// Neither this response nor the requests it could answer are paired: no span is
// better than a wrong one. Each is counted.
void ExchangeMatcher::abandon(const WaitingResponse& r) {
  ++stats_.responses_unpaired_after_loss;
  certain_ = false;
  for (Pending& entry : pending_) {
    if (entry.answer == Answer::kAwaiting && could_answer(entry, r)) mark_lost(entry);
  }
  method_queue_dirty_ = true;
}

// Whether `r` can answer `entry` at all: a response moves after its request
// started, and starts after the response bytes moved before the request.
bool ExchangeMatcher::could_answer(const Pending& entry, const WaitingResponse& r) {
  if (entry.request_pos && r.request_pos) {
    if (entry.response_pos && r.response_pos && *r.response_pos < *entry.response_pos) return false;
    return *entry.request_pos < *r.request_pos;
  }
  return entry.request_ts <= r.first_ts;
}

bool ExchangeMatcher::request_lost_between(uint64_t from, uint64_t to) const {
  for (uint64_t start : request_loss_starts_) {
    if (start > from && start < to) return true;
  }
  // The request stream is lost right now, since before `to`: the loss is open-ended.
  return requests_.lost_sync() && (request_loss_starts_.empty() || request_loss_starts_.back() < to);
}

void ExchangeMatcher::note_request_loss(uint64_t from_offset) {
  std::optional<uint64_t> pos = request_places_.absolute(from_offset);
  if (!pos) return;
  // Losses before the oldest pending request can no longer matter.
  const std::optional<uint64_t> oldest = pending_.empty() ? std::nullopt : pending_.front().request_pos;
  std::erase_if(request_loss_starts_, [&](uint64_t s) { return !oldest || s < *oldest; });
  if (request_loss_starts_.size() >= kMaxLossesKept) {
    // Bounded memory: without the older losses a request could hide in one of
    // them, so this connection is no longer paired after a loss.
    request_loss_starts_.clear();
    losses_forgotten_ = true;
  }
  request_loss_starts_.push_back(*pos);
}

void ExchangeMatcher::note_response_loss() { note_response_loss_until(response_places_.absolute(responses_.position())); }

// Responses up to absolute position `end` may have been lost; unknown: any may.
void ExchangeMatcher::note_response_loss_until(std::optional<uint64_t> end) {
  ++response_losses_;
  if (!end) response_loss_end_.reset();
  else if (!response_loss_end_ || *response_loss_end_ < *end) response_loss_end_ = end;
}

// A request without an answer is a true "no response" only if no response could
// have been lost after it was sent.
bool ExchangeMatcher::answer_may_be_lost(const Pending& entry) const {
  // Joined mid-way, the response stream was first seen past where this answer began.
  const std::optional<uint64_t> first_seen = response_places_.absolute(0);
  if (entry.response_pos && first_seen && *first_seen > *entry.response_pos) return true;
  if (entry.response_pos && response_loss_end_) return *response_loss_end_ > *entry.response_pos;
  return response_losses_ > entry.response_losses_at_add;
}

void ExchangeMatcher::assign(Pending& entry, uint64_t offset, int status) {
  entry.answer = Answer::kAssigned;
  entry.response_offset = offset;
  entry.response_status = status;
  if (switches_protocols(entry.method, status)) switch_protocols();
  settle_upgrade(entry);
}

void ExchangeMatcher::mark_lost(Pending& entry) {
  entry.answer = Answer::kLost;
  ++stats_.requests_unpaired_after_loss;
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
    if (front.answer == Answer::kLost) {
      pending_.pop_front();
      continue;
    }
    const bool answered = front.answer == Answer::kAssigned && front.response.has_value();
    if (!front.request_done || !answered) break;
    emit_front();
  }
}

// Emits the oldest entry as it stands: an unfinished request is marked incomplete,
// a missing response leaves the exchange unanswered.
void ExchangeMatcher::emit_front() {
  Pending entry = std::move(pending_.front());
  pending_.pop_front();
  if (entry.answer == Answer::kAwaiting && answer_may_be_lost(entry)) {
    ++stats_.requests_unpaired_after_loss;
    return;
  }
  if (entry.answer == Answer::kLost) return;
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
