#include "mysql/session.h"

#include <algorithm>

#include "common/drain_in_order.h"
#include "mysql/counters.h"
#include "protocol_ids.h"

namespace spanwire::mysql {
namespace {

// Capability flags and status bits (MySQL client/server protocol).
constexpr uint32_t kConnectWithDb = 0x00000008, kSsl = 0x00000800, kSecureConnection = 0x00008000;
constexpr uint32_t kPluginAuthLenencData = 0x00200000, kDeprecateEof = 0x01000000;
constexpr uint16_t kMoreResultsExist = 0x0008;
// Commands.
constexpr uint8_t kQuit = 0x01, kInitDb = 0x02, kQuery = 0x03, kFieldList = 0x04, kStatistics = 0x09,
                  kChangeUser = 0x11, kPrepare = 0x16, kExecute = 0x17, kSendLongData = 0x18, kClose = 0x19;

void attach(ReaderStats& stats, ProtocolCounters& c) {
  stats.packets.attach(c.slot(counter::messages));
  stats.resyncs.attach(c.slot(counter::resyncs));
  stats.errors.attach(c.slot(counter::parse_errors));
  stats.skipped_bytes.attach(c.slot(counter::unparsed_bytes));
}

// Little-endian integers and length-encoded values off a payload's kept start.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  uint64_t fixed(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < s_.size(); ++i) v |= uint64_t{static_cast<unsigned char>(s_[i])} << (8 * i);
    s_.remove_prefix(std::min(n, s_.size()));
    return v;
  }
  uint64_t lenenc() {
    const uint64_t first = fixed(1);
    if (first < 0xfb) return first;
    return fixed(first == 0xfc ? 2 : first == 0xfd ? 3 : 8);
  }
  std::string_view cstring() {
    const size_t nul = s_.find('\0');
    const std::string_view out = s_.substr(0, nul);
    s_.remove_prefix(nul == std::string_view::npos ? s_.size() : nul + 1);
    return out;
  }
  void skip(size_t n) { s_.remove_prefix(std::min(n, s_.size())); }

 private:
  std::string_view s_;
};

// The size of a length-encoded integer from its first byte.
size_t lenenc_size(uint8_t first) { return first < 0xfb ? 1 : first == 0xfc ? 3 : first == 0xfd ? 4 : 9; }

uint8_t first_byte(const Packet& p) { return p.head.empty() ? 0 : static_cast<uint8_t>(p.head[0]); }
bool is_eof(const Packet& p) { return first_byte(p) == 0xfe && p.length < 9; }

// The status flags of an OK (0x00 or, ending a result set, 0xfe) or EOF packet.
uint16_t status_of(const Packet& p) {
  Cursor c(p.head);
  c.skip(1);
  if (is_eof(p)) {
    c.skip(2);  // warnings
    return static_cast<uint16_t>(c.fixed(2));
  }
  c.lenenc();  // affected rows
  c.lenenc();  // last insert id
  return static_cast<uint16_t>(c.fixed(2));
}

const char* command_name(uint8_t command) {
  switch (command) {
    case kInitDb: return "INIT_DB";
    case kFieldList: return "FIELD_LIST";
    case kStatistics: return "STATISTICS";
    case 0x0e: return "PING";
    case 0x0c: return "PROCESS_KILL";
    case 0x1a: return "STMT_RESET";
    case 0x1b: return "SET_OPTION";
    case 0x1f: return "RESET_CONNECTION";
    default: return "";
  }
}

}  // namespace

Session::Session(const SessionContext& context) : counters_(context.counters.of(protocol_id::MYSQL)) {
  fresh_readers();
}

void Session::fresh_readers() {
  client_ = Reader(Reader::Side::kClient);
  server_ = Reader(Reader::Side::kServer);
  attach(client_.counters(), counters_);
  attach(server_.counters(), counters_);
  losses_seen_[0] = losses_seen_[1] = 0;
}

// A pooled connection: no greeting, commands from the next one that begins a write.
void Session::start_midstream() { joined_ = true; }

void Session::join_midway() {
  joined_ = false;
  client_.start_midstream();
  server_.start_midstream();
  losses_seen_[0] = client_.stats().resyncs;
  losses_seen_[1] = server_.stats().resyncs;
  phase_ = Phase::kCommand;
  paired_ = false;
}

// After the SSL request: the HandshakeResponse41 follows inside TLS.
void Session::start_tls() {
  if (phase_ != Phase::kAwaitingTls) return;
  fresh_readers();
  answer_start_.reset();
  phase_ = Phase::kHandshakeResponse;
  paired_ = true;
}

void Session::place_chunk(bool from_client, const ChunkPlace& place) {
  if (phase_ == Phase::kAwaitingTls) return;
  bool lost = false;
  if (auto resume = answer_start_.note(from_client, place, &lost)) server_.resume_at(*resume);
  if (lost) lose_pairing();
}

void Session::feed(bool from_client, std::string_view bytes, uint64_t ts) {
  if (joined_) join_midway();
  if (phase_ == Phase::kAwaitingTls) return;  // the handshake's ciphertext
  (from_client ? client_ : server_).feed(bytes, ts);
  drain();
}

void Session::gap(bool from_client, uint64_t length, uint64_t ts) {
  if (joined_) join_midway();
  if (phase_ == Phase::kAwaitingTls) return;
  (from_client ? client_ : server_).gap(length, ts);
  drain();
}

void Session::lose_pairing() {
  if (paired_ && pending_) counters_.add(counter::requests_unpaired_after_loss);
  pending_.reset();
  paired_ = false;
  if (server_.in_sync()) server_.start_midstream();
  losses_seen_[1] = server_.stats().resyncs;
  phase_ = Phase::kCommand;  // the handshake's end may be lost
}

void Session::drain() {
  drain_in_order(
      client_, server_, losses_seen_, [this](Packet&& p) { on_client(std::move(p)); },
      [this](Packet&& p) { on_server(std::move(p)); }, [this] { lose_pairing(); },
      [this] { return phase_ == Phase::kAwaitingTls; });
}

void Session::on_greeting(const Packet& p) {
  Cursor c(p.head);
  c.skip(1);  // protocol version 10
  const std::string_view version = c.cstring();
  if (version.find("MariaDB") != std::string_view::npos) system_ = "mariadb";
  server_caps_ = 0;
  c.skip(4 + 8 + 1);  // thread id, scramble, filler
  server_caps_ = static_cast<uint32_t>(c.fixed(2));
  c.skip(1 + 2);  // charset, status
  server_caps_ |= static_cast<uint32_t>(c.fixed(2)) << 16;
}

// HandshakeResponse41: capabilities, limits, user, auth data (skipped, never
// parsed), then the database when CLIENT_CONNECT_WITH_DB is set.
void Session::on_handshake_response(const Packet& p) {
  Cursor c(p.head);
  const uint32_t caps = static_cast<uint32_t>(c.fixed(4));
  deprecate_eof_ = (caps & server_caps_ & kDeprecateEof) != 0;
  c.skip(4 + 1 + 23);
  c.cstring();  // user
  if (caps & kPluginAuthLenencData) c.skip(c.lenenc());
  else if (caps & kSecureConnection) c.skip(c.fixed(1));
  else c.cstring();
  if (caps & kConnectWithDb) {
    const std::string_view db = c.cstring();
    if (!db.empty()) database_ = std::string(db);
  }
}

void Session::on_client(Packet&& p) {
  switch (phase_) {
    case Phase::kHandshakeResponse: {
      const uint32_t caps = static_cast<uint32_t>(Cursor(p.head).fixed(4));
      if (p.length == 32 && (caps & kSsl)) {  // SSLRequest: TLS follows
        phase_ = Phase::kAwaitingTls;
        counters_.add(counter::tls_connections);
        return;
      }
      on_handshake_response(p);
      phase_ = Phase::kAuth;
      return;
    }
    case Phase::kCommand:
      if (p.seq == 0) on_command(std::move(p));
      return;  // LOCAL INFILE data
    default:
      return;  // authentication data: never parsed
  }
}

void Session::on_command(Packet&& p) {
  if (!paired_) {
    const AnswerStart::Found found = answer_start_.find(p.offset);
    if (found.verdict == AnswerStart::Verdict::kNo) {
      counters_.add(counter::requests_unpaired_after_loss);
      return;
    }
    if (found.verdict == AnswerStart::Verdict::kAt) server_.resume_at(found.answer_offset);
    paired_ = true;
  }
  // A PREPARE whose definitions all came may still have been waiting for EOFs
  // the server did not send (DEPRECATE_EOF unknown): the next command ends it.
  if (pending_ && pending_->answer == Answer::kPrepareDefinitions && pending_->left == 0) pending_.reset();
  if (pending_) counters_.add(counter::requests_unpaired_after_loss);  // its answer was never recognised
  pending_.reset();
  const uint8_t command = first_byte(p);
  Pending q;
  q.command = command;
  q.start_ts = p.first_ts;
  q.offset = p.offset;
  const std::string_view body = std::string_view(p.head).substr(std::min<size_t>(1, p.head.size()));
  switch (command) {
    case kQuit: case kSendLongData:
      return;  // never answered
    case kClose:
      statements_.erase(static_cast<uint32_t>(Cursor(body).fixed(4)));
      return;
    case kChangeUser:
      phase_ = Phase::kAuth;
      return;
    case kQuery: case kPrepare:
      q.sql = std::string(body);
      break;
    case kExecute: {
      auto it = statements_.find(static_cast<uint32_t>(Cursor(body).fixed(4)));
      if (it != statements_.end()) q.sql = it->second;
      break;
    }
    case kInitDb:
      q.init_db = std::string(body);
      q.answer = Answer::kFirst;
      break;
    case kStatistics:
      q.answer = Answer::kAnyPacket;
      break;
    case kFieldList:
      q.answer = Answer::kFieldList;
      break;
    default:
      break;
  }
  q.operation = command_name(command);
  pending_ = std::move(q);
}

void Session::on_server(Packet&& p) {
  switch (phase_) {
    case Phase::kGreeting:
      if (p.seq == 0 && first_byte(p) == 10) {
        on_greeting(p);
        phase_ = Phase::kHandshakeResponse;
      }
      return;
    case Phase::kAuth:
      if (first_byte(p) == 0x00) phase_ = Phase::kCommand;  // authenticated
      return;
    case Phase::kCommand:
      break;
    default:
      return;
  }
  if (!pending_) {
    if (!is_eof(p) && paired_) counters_.add(counter::responses_orphaned);  // a lone EOF ends a PREPARE's metadata
    return;
  }
  answer(p);
}

void Session::on_prepare_ok(const Packet& p) {
  Cursor c(p.head);
  c.skip(1);
  const uint32_t id = static_cast<uint32_t>(c.fixed(4));
  const uint64_t columns = c.fixed(2), params = c.fixed(2);
  if (pending_->sql) {
    if (!statements_.count(id)) {
      if (statements_.size() >= kMaxStatements) {
        statements_.erase(statement_order_.front());
        statement_order_.pop_front();
        counters_.add(counter::statements_evicted);
      }
      statement_order_.push_back(id);
    }
    statements_[id] = *pending_->sql;
  }
  pending_->left = columns + params;
  pending_->eofs_left = deprecate_eof_ ? 0 : (columns > 0) + (params > 0);
  pending_->answer = Answer::kPrepareDefinitions;
  if (pending_->left == 0 && pending_->eofs_left == 0) finish(p.last_ts);
}

// One packet of the pending command's answer, read by its shape.
void Session::answer(const Packet& p) {
  Pending& q = *pending_;
  const uint8_t b = first_byte(p);
  const auto fail = [&] {
    Cursor c(p.head);
    c.skip(1);
    q.failed = true;
    q.code = std::to_string(c.fixed(2));
    finish(p.last_ts);
  };
  switch (q.answer) {
    case Answer::kAnyPacket:
      return finish(p.last_ts);
    case Answer::kFieldList:
      if (b == 0xff) return fail();
      if (is_eof(p)) finish(p.last_ts);
      return;
    case Answer::kPrepareDefinitions:
      if (is_eof(p)) {
        if (q.eofs_left > 0) --q.eofs_left;
      } else if (q.left > 0) {
        --q.left;
      }
      if (q.left == 0 && q.eofs_left == 0) finish(p.last_ts);
      return;
    case Answer::kFirst:
      if (b == 0xff) return fail();
      if (b == 0x00 && q.command == kPrepare) return on_prepare_ok(p);
      if (b == 0x00 || is_eof(p)) {
        if (status_of(p) & kMoreResultsExist) return;  // another result follows
        if (q.command == kInitDb && b == 0x00) database_ = q.init_db;
        return finish(p.last_ts);
      }
      if (b == 0xfb) return;  // LOCAL INFILE: the client sends a file, then OK or ERR
      q.left = Cursor(p.head).lenenc();
      // MariaDB's cached metadata: a byte after the count says whether the
      // column definitions follow; 0: they do not.
      if (p.length == lenenc_size(first_byte(p)) + 1 && p.head.size() == p.length && p.head.back() == 0) q.left = 0;
      q.answer = q.left == 0 ? Answer::kAfterColumns : Answer::kColumns;
      return;
    case Answer::kColumns:
      if (--q.left == 0) q.answer = Answer::kAfterColumns;
      return;
    case Answer::kAfterColumns:
      q.answer = Answer::kRows;
      if (is_eof(p) && p.length == 5 && !deprecate_eof_) return;  // the EOF between columns and rows
      [[fallthrough]];
    case Answer::kRows:
      if (b == 0xff) return fail();
      if (b == 0xfe && p.length < Reader::kMaxPayload) {  // EOF, or an OK ending the rows
        if (status_of(p) & kMoreResultsExist) {
          q.answer = Answer::kFirst;
          return;
        }
        return finish(p.last_ts);
      }
      return;  // a row
  }
}

void Session::finish(uint64_t end_ts) {
  Pending& q = *pending_;
  if (q.command == kPrepare && !q.failed) {  // setup, not a query: its Executes are spans
    pending_.reset();
    return;
  }
  db::Call call = call_of(q, end_ts);
  call.answered = true;
  call.failed = q.failed;
  call.status_code = q.code;
  if (!q.sql && q.command == kExecute) {
    call.text_unknown = true;  // prepared before the sensor: never guessed
    counters_.add(counter::statements_unknown);
  } else if (!q.sql) {
    call.operation = q.operation;
  }
  done_.push_back(std::move(call));
  pending_.reset();
}

void Session::close(uint64_t ts) {
  if (!pending_ || pending_->command == kPrepare) return;
  done_.push_back(call_of(*pending_, ts));
  pending_.reset();
}

// What a command's span says, answered or not.
db::Call Session::call_of(const Pending& q, uint64_t end_ts) const {
  db::Call call;
  call.system = system_;
  call.ns = database_;
  call.start_ts = q.start_ts;
  call.end_ts = end_ts;
  call.request_offset = q.offset;
  if (q.sql) db::describe_sql(call, *q.sql, db::Dialect::kMySql);
  return call;
}

void Session::publish(const ConnectionFacts& /*conn*/, RecordSink& sink) {
  for (const db::Call& call : done_) sink.record(db::to_record(call));
  done_.clear();
}

}  // namespace spanwire::mysql
