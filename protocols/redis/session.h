// Redis behind the ProtocolSession interface: commands and replies paired in
// order (pipelining included), with the connection state that changes what
// a reply means: the selected database, MULTI/EXEC, pub/sub, MONITOR and
// CLIENT REPLY. After lost bytes, pairing resumes only at a command that
// began a write, whose reply starts where the reply stream stood then.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/answer_start.h"
#include "common/protocol_session.h"
#include "redis/resp.h"

namespace spanwire::redis {

class Session final : public ProtocolSession {
 public:
  static constexpr size_t kMaxPending = 4096;

  explicit Session(const SessionContext& context);

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override;
  void gap(bool from_client, uint64_t length, uint64_t ts) override;
  void place_chunk(bool from_client, const ChunkPlace& place) override;
  void start_midstream() override;
  void close(uint64_t ts) override;
  void publish(const ConnectionFacts& conn, RecordSink& sink) override;

 private:
  // What the connection does with replies (the server's view of the client).
  enum class Mode { kNormal, kSubscribed, kMonitor, kRepliesOff };

  struct Pending {
    Value command;
    std::string operation;  // upper case
    std::optional<std::string> ns;  // the database selected when it was sent
    int64_t replies_left = 1;      // (P|S)SUBSCRIBE: one confirmation per channel
    std::optional<Value> reply;    // the first (or only) reply
    uint64_t end_ts = 0;
    std::optional<int64_t> batch;  // EXEC: commands queued since MULTI
  };

  void drain();
  void on_command(Value&& command);
  void on_reply(Value&& reply);
  bool is_push(const Value& reply) const;
  void complete(Pending& p, uint64_t end_ts);
  void apply_effects(const Pending& p);
  void lose_pairing();
  bool try_resync(const Value& command);

  ProtocolCounters& counters_;
  Reader requests_{Reader::Side::kRequests};
  Reader replies_{Reader::Side::kReplies};
  std::deque<Pending> pending_;
  std::vector<Pending> done_;  // completed, not yet published
  Mode mode_ = Mode::kNormal;
  bool skip_next_reply_ = false;  // CLIENT REPLY SKIP: the next command gets none
  std::optional<std::string> db_ = "0";  // unknown when joined mid-way
  std::optional<int64_t> queued_;        // inside MULTI: commands queued so far
  bool paired_ = true;                   // false after a loss until resynchronised
  uint64_t losses_seen_[2] = {0, 0};     // each reader's resyncs already acted on
  AnswerStart answer_start_;  // where replies resume after a loss
};

}  // namespace spanwire::redis
