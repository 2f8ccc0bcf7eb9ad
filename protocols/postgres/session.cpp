#include "postgres/session.h"

#include <algorithm>

#include "common/drain_in_order.h"
#include "postgres/counters.h"
#include "protocol_ids.h"

namespace spanwire::postgres {
namespace {

constexpr uint32_t kSslRequest = 80877103, kGssEncRequest = 80877104, kCancelRequest = 80877102;

void attach(ReaderStats& stats, ProtocolCounters& c) {
  stats.messages.attach(c.slot(counter::messages));
  stats.resyncs.attach(c.slot(counter::resyncs));
  stats.errors.attach(c.slot(counter::parse_errors));
  stats.skipped_bytes.attach(c.slot(counter::unparsed_bytes));
}

// Reads NUL-terminated strings and big-endian integers off a message body.
class BodyCursor {
 public:
  explicit BodyCursor(std::string_view body) : rest_(body) {}
  std::string_view cstring() {
    const size_t nul = rest_.find('\0');
    const std::string_view s = rest_.substr(0, nul);
    rest_.remove_prefix(nul == std::string_view::npos ? rest_.size() : nul + 1);
    return s;
  }
  uint32_t int32() {
    if (rest_.size() < 4) return rest_.remove_prefix(rest_.size()), 0;
    const auto* b = reinterpret_cast<const unsigned char*>(rest_.data());
    rest_.remove_prefix(4);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  char byte() {
    if (rest_.empty()) return 0;
    const char c = rest_[0];
    rest_.remove_prefix(1);
    return c;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// The SQLSTATE ('C' field) of an ErrorResponse; its message is never read.
std::string sqlstate_of(std::string_view body) {
  BodyCursor c(body);
  while (!c.empty()) {
    const char field = c.byte();
    if (field == 0) break;
    const std::string_view value = c.cstring();
    if (field == 'C' && value.size() == 5) return std::string(value);
  }
  return "XX000";  // internal_error: an error whose code was not seen
}

// Length then a protocol or request code: a StartupMessage, SSLRequest,
// GSSENCRequest or CancelRequest.
bool startup_form(std::string_view b) {
  if (b.size() < 8) return false;
  BodyCursor c(b);
  const uint32_t length = c.int32(), code = c.int32();
  return length >= 8 && length <= 10000 &&
         (code == 0x00030000 || code == kSslRequest || code == kGssEncRequest || code == kCancelRequest);
}

}  // namespace

Session::Session(const SessionContext& context) : counters_(context.counters.of(protocol_id::POSTGRES)) {
  fresh_readers();
}

// Readers at the conversation's first byte: the frontend's is untyped.
void Session::fresh_readers() {
  frontend_ = Reader(Reader::Side::kFrontend);
  backend_ = Reader(Reader::Side::kBackend);
  attach(frontend_.counters(), counters_);
  attach(backend_.counters(), counters_);
  frontend_.expect_untyped();
  losses_seen_[0] = losses_seen_[1] = 0;
}

// Joined mid-way; but a server process forked after accept() is "joined" at
// the conversation's first byte: the first chunk placed tells (place_chunk).
void Session::start_midstream() { joined_ = true; }

void Session::join_midway() {
  joined_ = false;
  frontend_.start_midstream();
  backend_.start_midstream();
  losses_seen_[0] = frontend_.stats().resyncs;
  losses_seen_[1] = backend_.stats().resyncs;
  phase_ = Phase::kReady;
  paired_ = false;
}

// The StartupMessage follows, now inside TLS, counted from 0 again.
void Session::start_tls() {
  if (phase_ != Phase::kAwaitingTls) return;
  from_the_start();
}

// The conversation starts over at its first byte (inside TLS now).
void Session::from_the_start() {
  fresh_readers();
  answer_start_.reset();  // positions are learned again from the next chunks
  phase_ = Phase::kStartup;
  paired_ = true;
}

void Session::place_chunk(bool from_client, const ChunkPlace& place) {
  if (phase_ == Phase::kAwaitingTls) return;
  if (joined_) joined_at_zero_ = from_client && place.pos == 0 && place.peer_pos == 0;
  bool lost = false;
  if (auto resume = answer_start_.note(from_client, place, &lost)) backend_.resume_at(*resume);
  if (lost) lose_pairing();
}

void Session::feed(bool from_client, std::string_view bytes, uint64_t ts) {
  if (joined_) {
    // At the connection's first byte, an untyped startup-form message: the
    // readers are right as they were made. Anything else was joined mid-way.
    if (from_client && joined_at_zero_ && startup_form(bytes)) {
      joined_ = false;
    } else {
      join_midway();
    }
  }
  if (phase_ == Phase::kAwaitingTls) return;  // the handshake's ciphertext
  (from_client ? frontend_ : backend_).feed(bytes, ts);
  drain();
}

void Session::gap(bool from_client, uint64_t length, uint64_t ts) {
  if (joined_) join_midway();
  if (phase_ == Phase::kAwaitingTls) return;
  (from_client ? frontend_ : backend_).gap(length, ts);
  drain();
}

void Session::lose_pairing() {
  if (paired_) counters_.add(counter::requests_unpaired_after_loss, pending_.size());
  pending_.clear();
  paired_ = false;
  batch_start_ts_ = 0;
  if (backend_.in_sync()) backend_.start_midstream();
  losses_seen_[1] = backend_.stats().resyncs;
  if (phase_ == Phase::kStartup) phase_ = Phase::kReady;  // the startup's end may be lost
}

void Session::drain() {
  drain_in_order(
      frontend_, backend_, losses_seen_, [this](Message&& m) { on_frontend(std::move(m)); },
      [this](Message&& m) { on_backend(std::move(m)); }, [this] { lose_pairing(); },
      [this] { return phase_ == Phase::kAwaitingTls; });
}

// After a loss, a message at the start of a write is answered from where the
// backend stream stood when it was written (clients wait for ReadyForQuery).
bool Session::try_resync(const Message& m) {
  const AnswerStart::Found found = answer_start_.find(m.offset);
  if (found.verdict == AnswerStart::Verdict::kNo) return false;
  if (found.verdict == AnswerStart::Verdict::kAt) backend_.resume_at(found.answer_offset);
  paired_ = true;
  return true;
}

void Session::on_startup(const Message& m) {
  BodyCursor c(m.body);
  const uint32_t code = c.int32();
  if (code == kSslRequest || code == kGssEncRequest) {
    backend_.expect_single_byte();  // (the frontend reader expects the StartupMessage itself)
  } else if (code == kCancelRequest) {
    counters_.add(counter::cancel_requests);
  } else {
    // StartupMessage: parameter names and values; the database defaults to the user.
    std::optional<std::string> user;
    while (!c.empty()) {
      const std::string_view name = c.cstring();
      if (name.empty()) break;
      const std::string_view value = c.cstring();
      if (name == "database") database_ = std::string(value);
      if (name == "user") user = std::string(value);
    }
    if (!database_) database_ = user;
  }
}

void Session::remember_statement(std::string name, std::string sql) {
  if (!statements_.count(name)) {
    if (statements_.size() >= kMaxStatements) {
      statements_.erase(statement_order_.front());
      statement_order_.pop_front();
      counters_.add(counter::statements_evicted);
    }
    statement_order_.push_back(name);
  }
  statements_[std::move(name)] = std::move(sql);
}

void Session::on_frontend(Message&& m) {
  if (m.type == 0) return on_startup(m);
  if (phase_ == Phase::kStartup && m.type == 'p') return;  // authentication: never read
  if (!paired_ && !try_resync(m)) {
    if (m.type == 'Q' || m.type == 'E') counters_.add(counter::requests_unpaired_after_loss);
    return;
  }
  if (batch_start_ts_ == 0) batch_start_ts_ = m.first_ts;
  BodyCursor c(m.body);
  Pending p;
  p.type = m.type;
  p.start_ts = m.first_ts;
  p.offset = m.offset;
  switch (m.type) {
    case 'Q':
      p.sql = std::string(c.cstring());
      batch_start_ts_ = 0;
      break;
    case 'P': {
      std::string name(c.cstring());
      p.sql = std::string(c.cstring());
      remember_statement(std::move(name), *p.sql);
      break;
    }
    case 'B': {
      std::string portal(c.cstring());
      const std::string statement(c.cstring());
      auto it = statements_.find(statement);
      portals_[std::move(portal)] = it == statements_.end() ? std::nullopt : std::optional<std::string>(it->second);
      break;
    }
    case 'E': {
      auto it = portals_.find(std::string(c.cstring()));
      p.sql = it == portals_.end() ? std::nullopt : it->second;
      p.start_ts = batch_start_ts_;
      batch_start_ts_ = 0;
      break;
    }
    case 'C': {
      const char kind = c.byte();
      const std::string name(c.cstring());
      if (kind == 'S') statements_.erase(name);
      else portals_.erase(name);
      break;
    }
    case 'S':
      batch_start_ts_ = 0;
      break;
    case 'D': case 'F':
      break;
    default:
      return;  // Flush, Terminate, COPY data: nothing answers them
  }
  if (pending_.size() >= kMaxPending) {
    counters_.add(counter::requests_dropped_in_flight);
    return;
  }
  pending_.push_back(std::move(p));
}

void Session::on_error(const Message& m) {
  const std::string code = sqlstate_of(m.body);
  if (pending_.empty()) {
    counters_.add(counter::responses_orphaned);  // e.g. FATAL at shutdown
    return;
  }
  if (pending_.front().type == 'Q' || pending_.front().type == 'F') {
    pending_.front().failed = true;
    pending_.front().sqlstate = code;
    return;  // ReadyForQuery ends it
  }
  // Extended protocol: the backend skips to Sync. The failure belongs to the
  // batch's Execute (or, without one, to the Parse that failed).
  auto sync = std::find_if(pending_.begin(), pending_.end(), [](const Pending& p) { return p.type == 'S'; });
  auto target = std::find_if(pending_.begin(), sync, [](const Pending& p) { return p.type == 'E'; });
  if (target == sync && pending_.front().type == 'P') target = pending_.begin();
  if (target != sync) {
    target->failed = true;
    target->sqlstate = code;
    complete(*target, m.last_ts);
  }
  pending_.erase(pending_.begin(), sync);
}

void Session::on_backend(Message&& m) {
  if (m.type == 1) {  // the answer to SSLRequest / GSSENCRequest
    if (m.body == "S" || m.body == "G") {
      phase_ = Phase::kAwaitingTls;
      if (m.body == "S") counters_.add(counter::tls_connections);
    }
    return;
  }
  if (phase_ == Phase::kStartup) {
    if (m.type == 'Z') phase_ = Phase::kReady;
    return;  // authentication, parameters, key data
  }
  switch (m.type) {
    case 'N': case 'A': case 'S':
      counters_.add(counter::async_messages);
      return;
    case 'E':
      return on_error(m);
    default:
      break;
  }
  if (pending_.empty()) {
    if (m.type != 'K' && m.type != 'R' && paired_) counters_.add(counter::responses_orphaned);
    return;
  }
  Pending& front = pending_.front();
  const auto pop_if = [&](char type) {
    if (front.type == type) {
      pending_.pop_front();
    } else {
      lose_pairing();
    }
  };
  switch (m.type) {
    case '1': return pop_if('P');
    case '2': return pop_if('B');
    case '3': return pop_if('C');
    case 'n': return pop_if('D');
    case 'T':
      if (front.type == 'D') pending_.pop_front();
      return;  // else a row description inside a Query or Execute
    case 'C': case 'I': case 's':
      if (front.type == 'E') {
        if (m.type == 'C') front.tag = BodyCursor(m.body).cstring();
        complete(front, m.last_ts);
        pending_.pop_front();
      } else if (front.type == 'Q' && front.tag.empty() && m.type == 'C') {
        front.tag = BodyCursor(m.body).cstring();
      }
      return;
    case 'Z':
      while (!pending_.empty()) {
        Pending p = std::move(pending_.front());
        pending_.pop_front();
        if (p.type == 'Q' || p.type == 'F') {
          if (p.type == 'Q') complete(p, m.last_ts);
          break;
        }
        if (p.type == 'S') break;
      }
      return;
    default:
      return;  // rows, COPY responses and data, parameter descriptions
  }
}

// What a request's span says, answered or not.
db::Call Session::call_of(const Pending& p, uint64_t end_ts) const {
  db::Call call;
  call.system = "postgresql";
  call.ns = database_;
  call.start_ts = p.start_ts;
  call.end_ts = end_ts;
  call.request_offset = p.offset;
  if (p.sql) db::describe_sql(call, *p.sql, db::Dialect::kPostgres);
  return call;
}

void Session::complete(Pending& p, uint64_t end_ts) {
  db::Call call = call_of(p, end_ts);
  call.answered = true;
  call.failed = p.failed;
  call.status_code = p.sqlstate;
  if (!p.sql) {
    call.text_unknown = true;  // prepared before the sensor: never guessed
    counters_.add(counter::statements_unknown);
  }
  done_.push_back(std::move(call));
}

void Session::close(uint64_t ts) {
  for (Pending& p : pending_) {
    if (p.type == 'Q' || p.type == 'E') done_.push_back(call_of(p, ts));
  }
  pending_.clear();
}

void Session::publish(const ConnectionFacts& /*conn*/, RecordSink& sink) {
  for (const db::Call& call : done_) sink.record(db::to_record(call));
  done_.clear();
}

}  // namespace spanwire::postgres
