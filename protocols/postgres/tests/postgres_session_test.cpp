// The PostgreSQL session on canned protocol-3.0 conversations.
#include "postgres/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "postgres/counters.h"
#include "protocol_ids.h"
#include "support/records.h"
#include "support/infer_input.h"

namespace spanwire::postgres {
namespace {

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string msg(char type, std::string_view body) { return std::string(1, type) + be32(body.size() + 4) + std::string(body); }
std::string cstr(std::string_view s) { return std::string(s) + '\0'; }
std::string startup(std::string_view user, std::string_view db) {
  const std::string body = be32(0x00030000) + cstr("user") + cstr(user) + cstr("database") + cstr(db) + '\0';
  return be32(body.size() + 4) + body;
}
const std::string kSslRequest = be32(8) + be32(80877103);
const std::string kReady = msg('Z', "I");
std::string ready_after_auth() {
  return msg('R', be32(0)) + msg('S', cstr("server_version") + cstr("15.18")) + msg('K', be32(42) + be32(7)) + kReady;
}
std::string error(std::string_view sqlstate) {
  return msg('E', "SERROR" + std::string(1, '\0') + "C" + cstr(sqlstate) + "Mrelation \"secret\" does not exist" +
                      std::string(2, '\0'));
}

using Collected = spanwire::testing::CollectedRecords;
using spanwire::testing::text;

class PostgresSessionTest : public ::testing::Test {
 protected:
  ProtocolSettings settings;
  CounterBoard board;
  Session session{SessionContext{settings, board}};
  ConnectionFacts conn;
  Collected seen;
  uint64_t ts = 10;
  uint64_t pos[2] = {0, 0}, start[2] = {0, 0};

  void send(bool from_client, std::string_view bytes) {
    const int d = from_client ? 0 : 1;
    session.place_chunk(from_client, {pos[d], pos[1 - d], start[d]});
    session.feed(from_client, bytes, ts++);
    pos[d] += bytes.size();
    session.publish(conn, seen);
  }
  void connect(std::string_view db = "shop") {
    send(true, startup("app", db));
    send(false, ready_after_auth());
  }
  uint64_t count(size_t c) const { return board.of(protocol_id::POSTGRES).value(c); }
};

TEST_F(PostgresSessionTest, SimpleQueriesWithNamespaceSummaryAndNoLiterals) {
  connect();
  send(true, msg('Q', cstr("SELECT name FROM items WHERE owner = 'alice' AND id = 42")));
  send(false, msg('T', "...") + msg('D', "secret row") + msg('C', cstr("SELECT 1")) + kReady);
  send(true, msg('Q', cstr("SELECT * FROM secret")));
  send(false, error("42P01") + kReady);
  ASSERT_EQ(seen.records.size(), 2u);
  const auto& ok = seen.records[0];
  EXPECT_EQ(ok.name, "SELECT items");
  EXPECT_EQ(text(ok, "db.system.name"), "postgresql");
  EXPECT_EQ(text(ok, "db.namespace"), "shop");
  EXPECT_EQ(text(ok, "db.operation.name"), "SELECT");
  EXPECT_EQ(text(ok, "db.collection.name"), "items");
  EXPECT_EQ(text(ok, "db.query.text"), "SELECT name FROM items WHERE owner = ? AND id = ?");
  EXPECT_EQ(ok.status, StatusCode::kUnset);
  const auto& failed = seen.records[1];
  EXPECT_EQ(failed.status, StatusCode::kError);
  EXPECT_EQ(text(failed, "db.response.status_code"), "42P01");
  EXPECT_EQ(text(failed, "error.type"), "42P01");
  EXPECT_TRUE(failed.status_message.find("secret") == std::string::npos);
}

// asyncpg-style: named statements, several Executes pipelined before one Sync.
TEST_F(PostgresSessionTest, ExtendedProtocolPipelinedExecutesCarryTheirStatements) {
  connect();
  send(true, msg('P', cstr("s1") + cstr("SELECT * FROM users WHERE id = $1") + std::string(2, '\0')) +
                 msg('P', cstr("s2") + cstr("UPDATE users SET seen = now() WHERE id = $1") + std::string(2, '\0')) +
                 msg('D', "Ss1" + std::string(1, '\0')) + msg('S', ""));
  send(false, msg('1', "") + msg('1', "") + msg('t', "..") + msg('T', "..") + kReady);
  send(true, msg('B', cstr("") + cstr("s1") + "\0\0\0\x01\0\0\0\x02" "42" + std::string(2, '\0')) + msg('E', cstr("") + be32(0)) +
                 msg('B', cstr("p2") + cstr("s2") + std::string(6, '\0')) + msg('E', cstr("p2") + be32(0)) + msg('S', ""));
  send(false, msg('2', "") + msg('D', "row") + msg('C', cstr("SELECT 1")) + msg('2', "") + msg('C', cstr("UPDATE 1")) + kReady);
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[0].name, "SELECT users");
  EXPECT_EQ(text(seen.records[0], "db.query.text"), "SELECT * FROM users WHERE id = $1");
  EXPECT_EQ(seen.records[1].name, "UPDATE users");
  EXPECT_EQ(count(counter::statements_unknown), 0u);
}

TEST_F(PostgresSessionTest, AnErrorSkipsTheRestOfTheBatchToSync) {
  connect();
  send(true, msg('P', cstr("") + cstr("SELEC oops") + std::string(2, '\0')) + msg('B', cstr("") + cstr("") + std::string(6, '\0')) +
                 msg('E', cstr("") + be32(0)) + msg('S', ""));
  send(false, error("42601") + kReady);
  send(true, msg('Q', cstr("SELECT 1")));
  send(false, msg('C', cstr("SELECT 1")) + kReady);
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(text(seen.records[0], "db.response.status_code"), "42601");
  EXPECT_EQ(seen.records[0].status, StatusCode::kError);
  EXPECT_EQ(seen.records[1].name, "SELECT");
  EXPECT_EQ(seen.records[1].status, StatusCode::kUnset);
}

TEST_F(PostgresSessionTest, SslRequestAnsweredNContinuesInPlaintext) {
  send(true, kSslRequest);
  send(false, "N");
  connect("inventory");
  send(true, msg('Q', cstr("DELETE FROM carts")));
  send(false, msg('C', cstr("DELETE 3")) + kReady);
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "inventory");
}

TEST_F(PostgresSessionTest, SslRequestAnsweredSContinuesInTheTlsPlaintext) {
  send(true, kSslRequest);
  send(false, "S");
  send(true, "\x16\x03\x01 ciphertext of the handshake");
  send(false, "\x16\x03\x03 more ciphertext");
  session.start_tls();
  pos[0] = pos[1] = 0;
  connect("billing");
  send(true, msg('Q', cstr("SELECT 1")));
  send(false, msg('C', cstr("SELECT 1")) + kReady);
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "billing");
  EXPECT_EQ(count(counter::tls_connections), 1u);
  EXPECT_EQ(count(counter::parse_errors), 0u);
}

TEST_F(PostgresSessionTest, AsyncMessagesCopyAndCancel) {
  connect();
  send(true, msg('Q', cstr("COPY items FROM STDIN")));
  send(false, msg('G', std::string(3, '\0')));
  send(true, msg('d', "1\tsecret\n") + msg('c', ""));
  send(false, msg('N', "SNOTICE\0") + msg('C', cstr("COPY 1")) + kReady + msg('A', be32(9) + cstr("ch") + cstr("payload")));
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(seen.records[0].name, "COPY items");
  EXPECT_EQ(count(counter::async_messages), 2u);
  Session cancel{SessionContext{settings, board}};
  cancel.feed(true, be32(16) + be32(80877102) + be32(42) + be32(7), 1);
  EXPECT_EQ(count(counter::cancel_requests), 1u);
}

// A pooled connection joined mid-way: an Execute of a statement prepared
// before the sensor gets a span with what is certain, flagged. (The kernel
// counts a socket's bytes from when it first saw it: positions start at 0.)
TEST_F(PostgresSessionTest, StatementPreparedBeforeTheSensorIsFlaggedNotGuessed) {
  session.start_midstream();
  send(true, msg('B', cstr("") + cstr("old_stmt") + std::string(6, '\0')) + msg('E', cstr("") + be32(0)) + msg('S', ""));
  send(false, msg('2', "") + msg('C', cstr("SELECT 4")) + kReady);
  send(true, msg('Q', cstr("SELECT now()")));
  send(false, msg('C', cstr("SELECT 1")) + kReady);
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[0].name, "postgresql");
  EXPECT_EQ(find_attribute(seen.records[0].attributes, "db.query.text"), nullptr);
  EXPECT_EQ(find_attribute(seen.records[0].attributes, "spanwire.db.query.text_unknown") != nullptr, true);
  EXPECT_EQ(count(counter::statements_unknown), 1u);
  EXPECT_EQ(seen.records[1].name, "SELECT");
  EXPECT_EQ(find_attribute(seen.records[1].attributes, "db.namespace"), nullptr);
}

// A server process forked after accept(): the kernel joins it "mid-way" at
// the conversation's first byte, which the session recognises.
TEST_F(PostgresSessionTest, ForkedServerSeesTheWholeConversation) {
  session.start_midstream();
  connect("orders");
  send(true, msg('Q', cstr("SELECT 1")));
  send(false, msg('C', cstr("SELECT 1")) + kReady);
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "orders");
  EXPECT_EQ(count(counter::resyncs), 0u);
}

TEST_F(PostgresSessionTest, StatementMapIsBounded) {
  connect();
  std::string parses;
  for (size_t i = 0; i < Session::kMaxStatements + 10; ++i)
    parses += msg('P', cstr("s" + std::to_string(i)) + cstr("SELECT 1") + std::string(2, '\0'));
  send(true, parses + msg('S', ""));
  EXPECT_EQ(count(counter::statements_evicted), 10u);
}

int infer(std::string_view bytes, bool first = true, bool midstream = false) {
  spanwire::testing::InferInput in(bytes, first, midstream);
  return sw_infer_postgres(&in.in);
}

TEST(PostgresInference, FirstMessagesAndPooledQueries) {
  EXPECT_EQ(infer(startup("app", "shop")), SW_INFER_REQUEST);
  EXPECT_EQ(infer(kSslRequest), SW_INFER_REQUEST);
  EXPECT_EQ(infer(be32(16) + be32(80877102) + be32(1) + be32(2)), SW_INFER_REQUEST);
  EXPECT_EQ(infer(startup("app", "shop"), true, true), SW_INFER_REQUEST);  // a forked server process
  EXPECT_EQ(infer(msg('Q', cstr("SELECT 1")), false, true), SW_INFER_REQUEST);
  EXPECT_EQ(infer(msg('P', cstr("") + cstr("SELECT 1")), false, true), SW_INFER_REQUEST);
  EXPECT_EQ(infer(msg('B', cstr("") + cstr("__asyncpg_stmt_1__") + std::string(6, '\0')), false, true), SW_INFER_REQUEST);
  EXPECT_EQ(infer(msg('Q', cstr("SELECT 1")), true, false), SW_INFER_NO);  // a fresh connection starts untyped
  EXPECT_EQ(infer("GET / HTTP/1.1\r\n"), SW_INFER_NO);
  EXPECT_EQ(infer(be32(8) + be32(12345)), SW_INFER_NO);
  EXPECT_EQ(infer(std::string("\0\0", 2)), SW_INFER_MORE);
}

}  // namespace
}  // namespace spanwire::postgres
