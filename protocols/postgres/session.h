// PostgreSQL behind the ProtocolSession interface. The startup phase gives
// db.namespace (SSLRequest/GSSENCRequest answered 'N' continue in
// plaintext; 'S' hands over to the TLS hooks, whose plaintext starts the
// conversation again). Then every frontend message that the backend
// answers waits in order: a simple Query is one span ending at
// ReadyForQuery; in the extended protocol each Execute is one span with
// the text of its prepared statement (a bounded per-connection map from
// statement and portal names), ending at its CommandComplete or error;
// after an error the backend skips to Sync, and so does the pairing.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/answer_start.h"
#include "common/protocol_session.h"
#include "db/semconv.h"
#include "postgres/wire.h"

namespace spanwire::postgres {

class Session final : public ProtocolSession {
 public:
  static constexpr size_t kMaxPending = 4096;
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
  enum class Phase { kStartup, kAwaitingTls, kReady };

  // A frontend message the backend will answer.
  struct Pending {
    char type = 0;                  // Q, P, B, D, E, S, C, F
    std::optional<std::string> sql;  // Q and E: the text; nullopt for E: prepared before the sensor
    uint64_t start_ts = 0, offset = 0;
    std::string tag;                // CommandComplete of a Query's first statement
    std::string sqlstate;           // ErrorResponse
    bool failed = false;
  };

  void drain();
  void on_frontend(Message&& m);
  void on_backend(Message&& m);
  void on_startup(const Message& m);
  void on_error(const Message& m);
  void complete(Pending& p, uint64_t end_ts);
  void lose_pairing();
  bool try_resync(const Message& m);
  void remember_statement(std::string name, std::string sql);
  void from_the_start();
  void fresh_readers();
  db::Call call_of(const Pending& p, uint64_t end_ts) const;
  void join_midway();

  ProtocolCounters& counters_;
  Reader frontend_{Reader::Side::kFrontend};
  Reader backend_{Reader::Side::kBackend};
  Phase phase_ = Phase::kStartup;
  std::optional<std::string> database_;
  std::deque<Pending> pending_;
  std::vector<db::Call> done_;
  std::map<std::string, std::string> statements_;  // prepared statement -> SQL
  std::deque<std::string> statement_order_;        // for eviction at the bound
  std::map<std::string, std::optional<std::string>> portals_;  // portal -> SQL (nullopt: unknown)
  uint64_t batch_start_ts_ = 0;  // first message since the last Execute or Sync
  bool paired_ = true;
  bool joined_ = false;          // start_midstream() came, no byte fed yet
  bool joined_at_zero_ = false;  // ... and the first chunk is the connection's first byte
  uint64_t losses_seen_[2] = {0, 0};
  AnswerStart answer_start_;  // where answers resume after a loss
};

}  // namespace spanwire::postgres
