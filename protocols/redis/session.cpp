#include "redis/session.h"

#include <algorithm>

#include "common/drain_in_order.h"
#include "common/text.h"
#include "protocol_ids.h"
#include "redis/counters.h"
#include "redis/semconv.h"

namespace spanwire::redis {
namespace {

void attach(ReaderStats& stats, ProtocolCounters& c) {
  stats.values.attach(c.slot(counter::messages));
  stats.resyncs.attach(c.slot(counter::resyncs));
  stats.errors.attach(c.slot(counter::parse_errors));
  stats.skipped_bytes.attach(c.slot(counter::unparsed_bytes));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    if (iequals(s, n)) return true;
  return false;
}

std::string_view first(const Value& v) { return v.head.empty() ? std::string_view() : std::string_view(v.head[0]); }
std::string_view second(const Value& v) { return v.head.size() < 2 ? std::string_view() : std::string_view(v.head[1]); }
std::string_view third(const Value& v) { return v.head.size() < 3 ? std::string_view() : std::string_view(v.head[2]); }

// Pub/sub confirmations: one per channel, each the answer to part of a command.
bool confirmation(std::string_view kind) {
  return one_of(kind, {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"});
}

}  // namespace

Session::Session(const SessionContext& context) : counters_(context.counters.of(protocol_id::REDIS)) {
  attach(requests_.counters(), counters_);
  attach(replies_.counters(), counters_);
}

void Session::start_midstream() {
  requests_.start_midstream();
  replies_.start_midstream();
  losses_seen_[0] = requests_.stats().resyncs;
  losses_seen_[1] = replies_.stats().resyncs;
  db_.reset();
  paired_ = false;
}

void Session::place_chunk(bool from_client, const ChunkPlace& place) {
  bool lost = false;
  if (auto resume = answer_start_.note(from_client, place, &lost)) replies_.resume_at(*resume);
  if (lost) lose_pairing();
}

void Session::feed(bool from_client, std::string_view bytes, uint64_t ts) {
  (from_client ? requests_ : replies_).feed(bytes, ts);
  drain();
}

void Session::gap(bool from_client, uint64_t length, uint64_t ts) {
  (from_client ? requests_ : replies_).gap(length, ts);
  drain();
}

// Which reply answers which command is no longer known: what waits is
// counted, and both streams resynchronise.
void Session::lose_pairing() {
  if (paired_) counters_.add(counter::requests_unpaired_after_loss, pending_.size());
  pending_.clear();
  paired_ = false;
  queued_.reset();
  if (replies_.in_sync()) replies_.start_midstream();
  losses_seen_[1] = replies_.stats().resyncs;
}

void Session::drain() {
  drain_in_order(
      requests_, replies_, losses_seen_, [this](Value&& v) { on_command(std::move(v)); },
      [this](Value&& v) { on_reply(std::move(v)); }, [this] { lose_pairing(); }, [] { return false; });
}

// After a loss: a command at the start of a write answers from where the
// reply stream stood when it was written, if every earlier command had been
// answered by then (clients that wait for each reply); the reply reader is
// told that offset and checks a value begins there.
bool Session::try_resync(const Value& command) {
  const AnswerStart::Found found = answer_start_.find(command.offset);
  if (found.verdict == AnswerStart::Verdict::kNo) return false;
  if (found.verdict == AnswerStart::Verdict::kAt) replies_.resume_at(found.answer_offset);
  paired_ = true;
  return true;
}

void Session::on_command(Value&& command) {
  if (!paired_ && !try_resync(command)) {
    counters_.add(counter::requests_unpaired_after_loss);
    return;
  }
  Pending p;
  p.operation = upper(first(command));
  p.ns = db_;
  if (one_of(p.operation, {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"}))
    p.replies_left = std::max<int64_t>(1, command.elements - 1);
  bool answered = mode_ != Mode::kRepliesOff && !skip_next_reply_;
  skip_next_reply_ = false;
  if (p.operation == "CLIENT" && iequals(second(command), "REPLY")) {
    // ON is answered; OFF and SKIP are not, and SKIP silences the next command too.
    if (iequals(third(command), "ON")) {
      mode_ = Mode::kNormal;
      answered = true;
    } else if (iequals(third(command), "OFF")) {
      mode_ = Mode::kRepliesOff;
      answered = false;
    } else if (iequals(third(command), "SKIP")) {
      skip_next_reply_ = answered;
      answered = false;
    }
  }
  p.command = std::move(command);
  if (!answered) {
    counters_.add(counter::requests_without_reply);
    return;
  }
  if (pending_.size() >= kMaxPending) {
    counters_.add(counter::requests_dropped_in_flight);
    return;
  }
  pending_.push_back(std::move(p));
}

bool Session::is_push(const Value& reply) const {
  if (mode_ == Mode::kMonitor) return true;
  const std::string_view kind = first(reply);
  if (reply.type == '>') {
    if (!confirmation(kind)) return true;  // RESP3 pushes: messages, invalidations
  } else if (mode_ != Mode::kSubscribed || reply.type != '*') {
    return false;
  } else if (one_of(kind, {"message", "pmessage", "smessage"})) {
    return true;
  }
  // A confirmation the oldest command does not wait for (an UNSUBSCRIBE of
  // every channel confirms each one): no command's answer.
  return confirmation(kind) && (pending_.empty() || pending_.front().operation.find("SUBSCRIBE") == std::string::npos);
}

void Session::on_reply(Value&& reply) {
  if (is_push(reply)) {
    counters_.add(counter::pushes);
    return;
  }
  if (pending_.empty()) {
    if (paired_) counters_.add(counter::responses_orphaned);
    return;
  }
  Pending& p = pending_.front();
  if (!p.reply) p.reply = std::move(reply);
  p.end_ts = std::max(p.end_ts, p.reply->last_ts);
  if (--p.replies_left > 0) return;
  complete(p, p.end_ts);
  pending_.pop_front();
}

void Session::complete(Pending& p, uint64_t end_ts) {
  p.end_ts = end_ts;
  const bool failed = p.reply && (p.reply->type == '-' || p.reply->type == '!');
  if (p.operation == "EXEC" && queued_) p.batch = *queued_;
  if (!failed) apply_effects(p);
  if (queued_ && !failed && first(*p.reply) == "QUEUED") ++*queued_;
  if (p.operation == "EXEC" || p.operation == "DISCARD") queued_.reset();
  done_.push_back(std::move(p));
}

// How a command that succeeded changes what later commands and replies mean.
void Session::apply_effects(const Pending& p) {
  const std::string& op = p.operation;
  if (op == "SELECT" && !second(p.command).empty()) {
    uint64_t index = 0;
    db_ = parse_whole(second(p.command), index) ? std::optional<std::string>(std::to_string(index)) : std::nullopt;
  } else if (op == "MULTI") {
    queued_ = 0;
  } else if (op.find("SUBSCRIBE") != std::string::npos && op.find("UNSUBSCRIBE") == std::string::npos) {
    mode_ = Mode::kSubscribed;
  } else if (op == "MONITOR") {
    mode_ = Mode::kMonitor;
  } else if (op == "RESET") {
    mode_ = Mode::kNormal;
    db_.emplace(1, '0');  // database 0
    queued_.reset();
  }
}

void Session::close(uint64_t ts) {
  // Commands still waiting were never answered, unless the pairing was lost.
  for (Pending& p : pending_) {
    p.reply.reset();
    p.end_ts = std::max(ts, p.command.last_ts);
    done_.push_back(std::move(p));
  }
  pending_.clear();
}

void Session::publish(const ConnectionFacts& conn, RecordSink& sink) {
  for (const Pending& p : done_) sink.record(to_record(conn, p.command, p.operation, p.ns, p.reply, p.batch, p.end_ts));
  done_.clear();
}

}  // namespace spanwire::redis
