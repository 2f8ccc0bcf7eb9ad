// MySQL/MariaDB behind the ProtocolSession interface. The handshake gives
// the server's kind (db.system.name "mariadb" when its version says so),
// the capabilities and the database (HandshakeResponse41, later
// COM_INIT_DB); an SSL request hands over to the TLS hooks. In the command
// phase the client waits for each answer: every command that is answered
// is one span, its end found by reading the answer's shape (OK, ERR, a
// result set's column count, columns, optional EOF, rows and terminator,
// further result sets). COM_STMT_PREPARE maps a statement id to its text
// (bounded), which each COM_STMT_EXECUTE's span carries.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/answer_start.h"
#include "common/protocol_session.h"
#include "db/semconv.h"
#include "mysql/wire.h"

namespace spanwire::mysql {

class Session final : public ProtocolSession {
 public:
  static constexpr size_t kMaxStatements = 1024;

  explicit Session(const SessionContext& context);

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override;
  void gap(bool from_client, uint64_t length, uint64_t ts) override;
  void place_chunk(bool from_client, const ChunkPlace& place) override;
  void start_midstream() override;
  void start_tls() override;
  void close(uint64_t ts) override;
  void publish(const ConnectionFacts& conn, RecordSink& sink) override;

 private:
  enum class Phase { kGreeting, kHandshakeResponse, kAuth, kAwaitingTls, kCommand };
  // Where the answer to the pending command is.
  enum class Answer { kFirst, kColumns, kAfterColumns, kRows, kPrepareDefinitions, kAnyPacket, kFieldList };

  struct Pending {
    uint8_t command = 0;
    std::optional<std::string> sql;  // nullopt: a statement prepared before the sensor
    std::string operation;           // commands without SQL: "PING", ...
    std::string init_db;             // COM_INIT_DB's schema, applied on OK
    uint64_t start_ts = 0, offset = 0;
    Answer answer = Answer::kFirst;
    uint64_t left = 0;               // columns / definitions still to come
    uint64_t eofs_left = 0;          // COM_STMT_PREPARE without DEPRECATE_EOF: EOFs after its definitions
    bool failed = false;
    std::string code;                // the ERR packet's error number
  };

  void drain();
  void on_client(Packet&& p);
  void on_server(Packet&& p);
  void on_greeting(const Packet& p);
  void on_handshake_response(const Packet& p);
  void on_command(Packet&& p);
  void answer(const Packet& p);
  void on_prepare_ok(const Packet& p);
  void finish(uint64_t end_ts);
  void lose_pairing();
  void join_midway();
  void fresh_readers();
  db::Call call_of(const Pending& q, uint64_t end_ts) const;

  ProtocolCounters& counters_;
  Reader client_{Reader::Side::kClient};
  Reader server_{Reader::Side::kServer};
  Phase phase_ = Phase::kGreeting;
  std::string_view system_ = "mysql";  // "mariadb" once the greeting says so
  uint32_t server_caps_ = 0;
  bool deprecate_eof_ = false;  // CLIENT_DEPRECATE_EOF negotiated (unknown on a pooled connection: no)
  std::optional<std::string> database_;
  std::optional<Pending> pending_;  // the client waits for each answer
  std::vector<db::Call> done_;
  std::map<uint32_t, std::string> statements_;  // statement id -> SQL
  std::deque<uint32_t> statement_order_;
  bool paired_ = true;
  bool joined_ = false;
  uint64_t losses_seen_[2] = {0, 0};
  AnswerStart answer_start_;
};

}  // namespace spanwire::mysql
