// The Redis session: commands paired with replies into records, the
// connection state that changes what replies mean, and loss.
#include "redis/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol_ids.h"
#include "support/records.h"
#include "redis/counters.h"

namespace spanwire::redis {
namespace {

using Collected = spanwire::testing::CollectedRecords;
using spanwire::testing::text;

std::string command(std::initializer_list<std::string_view> words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (std::string_view w : words) out += "$" + std::to_string(w.size()) + "\r\n" + std::string(w) + "\r\n";
  return out;
}

class RedisSessionTest : public ::testing::Test {
 protected:
  ProtocolSettings settings;
  CounterBoard board;
  Session session{SessionContext{settings, board}};
  ConnectionFacts conn;
  Collected seen;
  uint64_t ts = 100;
  uint64_t pos[2] = {0, 0};    // [0] requests, [1] replies
  uint64_t start[2] = {0, 0};  // where the sensor joined each stream

  void send(bool from_client, std::string_view bytes) {
    const int d = from_client ? 0 : 1;
    session.place_chunk(from_client, {pos[d], pos[1 - d], start[d]});
    session.feed(from_client, bytes, ts++);
    pos[d] += bytes.size();
    session.publish(conn, seen);
  }
  void lose(bool from_client, uint64_t n) {
    session.gap(from_client, n, ts++);
    pos[from_client ? 0 : 1] += n;
  }
  uint64_t count(size_t c) const { return board.of(protocol_id::REDIS).value(c); }
};

TEST_F(RedisSessionTest, PipelinedCommandsPairInOrderWithoutValues) {
  send(true, command({"SET", "user:1", "s3cr3t-value"}) + command({"GET", "user:1"}) + command({"HGETALL", "h"}));
  send(false, "+OK\r\n$12\r\ns3cr3t-value\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  ASSERT_EQ(seen.records.size(), 3u);
  EXPECT_EQ(seen.records[0].name, "SET");
  EXPECT_EQ(text(seen.records[0], "db.system.name"), "redis");
  EXPECT_EQ(text(seen.records[0], "db.operation.name"), "SET");
  EXPECT_EQ(text(seen.records[0], "db.query.text"), "SET ? ?");
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "0");
  EXPECT_EQ(text(seen.records[1], "db.query.text"), "GET ?");
  EXPECT_EQ(text(seen.records[2], "db.operation.name"), "HGETALL");
  for (const auto& r : seen.records) {
    EXPECT_EQ(r.status, StatusCode::kUnset);
    for (const auto& a : r.attributes)
      if (const auto* s = std::get_if<std::string>(&a.value)) {
        EXPECT_EQ(s->find("s3cr3t"), std::string::npos) << a.key;
        EXPECT_EQ(s->find("user:1"), std::string::npos) << a.key;
      }
  }
}

TEST_F(RedisSessionTest, ErrorRepliesGiveTheirCodeAndNeverTheirText) {
  send(true, command({"INCR", "name"}));
  send(false, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  send(true, command({"NOSUCH", "password123"}));
  send(false, "-ERR unknown command 'NOSUCH', with args beginning with: 'password123'\r\n");
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[0].status, StatusCode::kError);
  EXPECT_EQ(text(seen.records[0], "db.response.status_code"), "WRONGTYPE");
  EXPECT_EQ(text(seen.records[0], "error.type"), "WRONGTYPE");
  EXPECT_EQ(text(seen.records[1], "db.response.status_code"), "ERR");
  EXPECT_TRUE(seen.records[1].status_message.empty());
}

TEST_F(RedisSessionTest, SelectChangesTheNamespaceOfLaterCommands) {
  send(true, command({"SELECT", "4"}));
  send(false, "+OK\r\n");
  send(true, "GET k\r\n");  // inline
  send(false, "$-1\r\n");
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "0");
  EXPECT_EQ(text(seen.records[0], "db.query.text"), "SELECT ?");
  EXPECT_EQ(text(seen.records[1], "db.namespace"), "4");
  EXPECT_EQ(text(seen.records[1], "db.query.text"), "GET ?");
}

TEST_F(RedisSessionTest, MultiExecCountsItsBatch) {
  send(true, command({"MULTI"}) + command({"INCR", "a"}) + command({"INCR", "b"}) + command({"EXEC"}));
  send(false, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n");
  ASSERT_EQ(seen.records.size(), 4u);
  EXPECT_EQ(seen.records[3].name, "EXEC");
  EXPECT_EQ(int_attribute(seen.records[3].attributes, "db.operation.batch.size"), 2);
  EXPECT_FALSE(int_attribute(seen.records[1].attributes, "db.operation.batch.size"));
}

TEST_F(RedisSessionTest, PubSubMessagesAreCountedNotSpans) {
  send(true, command({"SUBSCRIBE", "a", "b"}));
  send(false, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
  send(false, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n");
  send(false, ">3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nhi\r\n");
  send(true, command({"PING"}));
  send(false, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[0].name, "SUBSCRIBE");
  EXPECT_EQ(seen.records[1].name, "PING");
  EXPECT_EQ(count(counter::pushes), 2u);
  EXPECT_EQ(count(counter::responses_orphaned), 0u);
}

TEST_F(RedisSessionTest, MonitorOutputIsCounted) {
  send(true, command({"MONITOR"}));
  send(false, "+OK\r\n+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n");
  send(false, "+1339518087.877697 [0 127.0.0.1:60866] \"dbsize\"\r\n");
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(count(counter::pushes), 2u);
}

TEST_F(RedisSessionTest, ClientReplyOffSilencesUntilOn) {
  send(true, command({"CLIENT", "REPLY", "OFF"}) + command({"SET", "a", "1"}) + command({"CLIENT", "REPLY", "ON"}));
  send(false, "+OK\r\n");
  send(true, command({"CLIENT", "REPLY", "SKIP"}) + command({"SET", "b", "2"}) + command({"GET", "b"}));
  send(false, "$1\r\n2\r\n");
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(text(seen.records[0], "db.query.text"), "CLIENT ? ?");
  EXPECT_EQ(seen.records[1].name, "GET");
  EXPECT_EQ(count(counter::requests_without_reply), 4u);
}

TEST_F(RedisSessionTest, UnansweredAtCloseIsAnError) {
  send(true, command({"BLPOP", "q", "0"}));
  session.close(ts);
  session.publish(conn, seen);
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_FALSE(seen.records[0].answered);
  EXPECT_EQ(seen.records[0].status, StatusCode::kError);
}

// Lost reply bytes: nothing is paired until a command that began a write,
// answered from where the reply stream stood then.
TEST_F(RedisSessionTest, PairingResumesAfterALossAtACommandThatBeganAWrite) {
  send(true, command({"GET", "a"}));
  lose(false, 9);  // its reply
  send(true, command({"GET", "b"}));
  send(false, "$1\r\nb\r\n");
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(seen.records[0].name, "GET");
  EXPECT_EQ(seen.records[0].start_ts, 102u);
  EXPECT_EQ(count(counter::requests_unpaired_after_loss), 1u);
}

TEST_F(RedisSessionTest, JoinedMidwayWaitsForACommandStart) {
  session.start_midstream();
  pos[0] = start[0] = 5000;
  pos[1] = start[1] = 9000;
  send(true, "\r\n$5\r\nvalue\r\n");  // the tail of a command
  send(false, "alue\r\n");            // the tail of a reply
  send(true, command({"INCR", "n"}));
  send(false, ":8\r\n");
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(seen.records[0].name, "INCR");
  EXPECT_FALSE(find_attribute(seen.records[0].attributes, "db.namespace"));  // the selected db is unknown
}

// A pooled connection: the first thing seen is a command, before any reply.
TEST_F(RedisSessionTest, JoinedMidwayACommandBeforeAnyReply) {
  session.start_midstream();
  pos[0] = start[0] = 700;
  pos[1] = start[1] = 300;
  send(true, command({"SET", "k", "v"}));
  send(false, "+OK\r\n");
  send(true, command({"GET", "k"}));
  send(false, "$1\r\nv\r\n");
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[0].name, "SET");
  EXPECT_EQ(seen.records[1].name, "GET");
}

}  // namespace
}  // namespace spanwire::redis
