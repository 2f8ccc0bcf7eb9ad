// The MySQL/MariaDB session on canned conversations (packets as MariaDB
// 10.11 and its clients send them).
#include "mysql/session.h"

#include <gtest/gtest.h>

#include <string>

#include "mysql/counters.h"
#include "protocol_ids.h"
#include "support/infer_input.h"
#include "support/records.h"

namespace spanwire::mysql {
namespace {

using spanwire::testing::text;

std::string packet(uint8_t seq, std::string_view payload) {
  const size_t n = payload.size();
  return std::string{static_cast<char>(n), static_cast<char>(n >> 8), static_cast<char>(n >> 16), static_cast<char>(seq)} +
         std::string(payload);
}
std::string le(uint64_t v, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
const std::string kOk = std::string("\0\0\0\x02\0\0\0", 7);
const std::string kEof = std::string("\xfe\0\0\x02\0", 5);

// Greeting of a MariaDB server: protocol 10, version, thread id, scramble,
// capabilities (no DEPRECATE_EOF), charset, status, upper capabilities.
std::string greeting(std::string_view version) {
  return packet(0, std::string(1, '\x0a') + std::string(version) + '\0' + le(7, 4) + std::string(8, 's') + '\0' +
                       le(0xf7fe, 2) + '\x2d' + le(2, 2) + le(0x81bf, 2) + std::string(20, '\0'));
}
// HandshakeResponse41 with CLIENT_PROTOCOL_41 | SECURE_CONNECTION | CONNECT_WITH_DB.
std::string handshake_response(std::string_view db, uint32_t extra_caps = 0) {
  const uint32_t caps = 0x0200 | 0x8000 | 0x0008 | extra_caps;
  return packet(1, le(caps, 4) + le(1 << 24, 4) + '\x2d' + std::string(23, '\0') + "app" + '\0' + '\x14' +
                       std::string(20, 'h') + std::string(db) + '\0');
}
std::string err(uint16_t code, std::string_view state, std::string_view message) {
  return std::string("\xff", 1) + le(code, 2) + "#" + std::string(state) + std::string(message);
}

class MysqlSessionTest : public ::testing::Test {
 protected:
  ProtocolSettings settings;
  CounterBoard board;
  Session session{SessionContext{settings, board}};
  ConnectionFacts conn;
  spanwire::testing::CollectedRecords seen;
  uint64_t ts = 10, pos[2] = {0, 0};

  void send(bool from_client, std::string_view bytes) {
    const int d = from_client ? 0 : 1;
    session.place_chunk(from_client, {pos[d], pos[1 - d], 0});
    session.feed(from_client, bytes, ts++);
    pos[d] += bytes.size();
    session.publish(conn, seen);
  }
  void connect(std::string_view db = "shop") {
    send(false, greeting("5.5.5-10.11.19-MariaDB-0+deb12u1"));
    send(true, handshake_response(db));
    send(false, packet(2, kOk));
  }
  void query(std::string_view sql) { send(true, packet(0, "\x03" + std::string(sql))); }
  uint64_t count(size_t c) const { return board.of(protocol_id::MYSQL).value(c); }
};

TEST_F(MysqlSessionTest, QueriesWithResultSetsOkAndErrors) {
  connect();
  query("SELECT name FROM items WHERE id = 7 AND owner = 'alice'");
  send(false, packet(1, "\x01") + packet(2, "\x03" "def" + std::string(40, 'c')) + packet(3, kEof) +
                  packet(4, "\x05" "alice") + packet(5, kEof));
  query("INSERT INTO items VALUES (8, \"secret\")");
  send(false, packet(1, std::string("\0\x01\0\x02\0\0\0", 7)));
  query("SELECT * FROM nosuch");
  send(false, packet(1, err(1146, "42S02", "Table 'shop.nosuch' doesn't exist")));
  ASSERT_EQ(seen.records.size(), 3u);
  EXPECT_EQ(seen.records[0].name, "SELECT items");
  EXPECT_EQ(text(seen.records[0], "db.system.name"), "mariadb");
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "shop");
  EXPECT_EQ(text(seen.records[0], "db.query.text"), "SELECT name FROM items WHERE id = ? AND owner = ?");
  EXPECT_EQ(text(seen.records[1], "db.query.text"), "INSERT INTO items VALUES (?, ?)");
  EXPECT_EQ(seen.records[2].status, StatusCode::kError);
  EXPECT_EQ(text(seen.records[2], "db.response.status_code"), "1146");
  EXPECT_TRUE(seen.records[2].status_message.empty());
}

// DBD::MariaDB with mariadb_server_prepare: PREPARE answered with its
// definitions and EOFs, EXECUTE with MariaDB's cached metadata (no column
// definitions) and binary rows.
TEST_F(MysqlSessionTest, PreparedStatementsCarryTheirText) {
  connect();
  send(true, packet(0, "\x16" "select name from items where id = ?"));
  send(false, packet(1, std::string("\0", 1) + le(3, 4) + le(1, 2) + le(1, 2) + std::string(3, '\0')) +
                  packet(2, "\x03" "def" + std::string(20, 'p')) + packet(3, kEof) +
                  packet(4, "\x03" "def" + std::string(40, 'c')) + packet(5, kEof));
  for (int i = 0; i < 2; ++i) {
    send(true, packet(0, "\x17" + le(3, 4) + std::string("\0\x01\0\0\0\0\x01\x03\0", 9) + le(1 + i, 4)));
    send(false, packet(1, std::string("\x01\0", 2)) + packet(2, kEof) + packet(3, std::string("\0\0\x05" "alice", 8)) +
                    packet(4, kEof));
  }
  send(true, packet(0, "\x19" + le(3, 4)));  // COM_STMT_CLOSE: never answered
  send(true, packet(0, "\x0e"));             // COM_PING
  send(false, packet(1, kOk));
  ASSERT_EQ(seen.records.size(), 3u);
  EXPECT_EQ(seen.records[0].name, "SELECT items");
  EXPECT_EQ(text(seen.records[0], "db.query.text"), "select name from items where id = ?");
  EXPECT_EQ(seen.records[1].name, "SELECT items");
  EXPECT_EQ(seen.records[2].name, "PING");
  EXPECT_EQ(count(counter::requests_unpaired_after_loss), 0u);
  EXPECT_EQ(count(counter::responses_orphaned), 0u);
}

TEST_F(MysqlSessionTest, InitDbAndMultipleResultsAndMultiPacketQueries) {
  connect("");
  send(true, packet(0, "\x02" "billing"));
  send(false, packet(1, kOk));
  const std::string big = "SELECT '" + std::string(0xFFFFFF, 'x') + "'";
  const std::string payload = "\x03" + big;
  send(true, packet(0, payload.substr(0, 0xFFFFFF)) + packet(1, payload.substr(0xFFFFFF)));
  // Two result sets: the first one's EOF says more results exist (0x0008).
  send(false, packet(1, "\x01") + packet(2, "\x03" "def") + packet(3, kEof) + packet(4, "\x01x") +
                  packet(5, std::string("\xfe\0\0\x0a\0", 5)) + packet(6, std::string("\0\0\0\x02\0\0\0", 7)));
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[0].name, "INIT_DB");
  EXPECT_EQ(text(seen.records[1], "db.namespace"), "billing");
  EXPECT_EQ(text(seen.records[1], "db.query.text"), "SELECT ?");
}

TEST_F(MysqlSessionTest, SslRequestContinuesInTheTlsPlaintext) {
  send(false, greeting("8.0.36"));
  send(true, packet(1, le(0x0200 | 0x8000 | 0x0800, 4) + le(1 << 24, 4) + '\x2d' + std::string(23, '\0')));
  send(true, "\x16\x03\x01 ciphertext");
  session.start_tls();
  pos[0] = pos[1] = 0;
  send(true, handshake_response("inventory"));
  send(false, packet(3, kOk));
  query("SELECT 1");
  send(false, packet(1, std::string("\0\0\0\x02\0\0\0", 7)));
  ASSERT_EQ(seen.records.size(), 1u);
  EXPECT_EQ(text(seen.records[0], "db.system.name"), "mysql");
  EXPECT_EQ(text(seen.records[0], "db.namespace"), "inventory");
  EXPECT_EQ(count(counter::tls_connections), 1u);
}

TEST_F(MysqlSessionTest, PooledConnectionAndAStatementPreparedBeforeTheSensor) {
  session.start_midstream();
  send(true, packet(0, "\x17" + le(9, 4) + std::string("\0\x01\0\0\0", 5)));
  send(false, packet(1, std::string("\x01\0", 2)) + packet(2, std::string("\0\0\x01", 3)) + packet(3, kEof));
  query("SELECT 2");
  send(false, packet(1, std::string("\0\0\0\x02\0\0\0", 7)));
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_NE(find_attribute(seen.records[0].attributes, "spanwire.db.query.text_unknown"), nullptr);
  EXPECT_EQ(count(counter::statements_unknown), 1u);
  EXPECT_EQ(seen.records[1].name, "SELECT");
}

int infer(std::string_view bytes, bool first = true, bool midstream = false) {
  spanwire::testing::InferInput in(bytes, first, midstream);
  in.in.total = bytes.size();
  return sw_infer_mysql(&in.in);
}

TEST(MysqlInference, GreetingAndPooledCommands) {
  EXPECT_EQ(infer(greeting("5.5.5-10.11.19-MariaDB")), SW_INFER_RESPONSE);
  EXPECT_EQ(infer(greeting("8.0.36")), SW_INFER_RESPONSE);
  EXPECT_EQ(infer(packet(0, "\x03SELECT 1"), false, true), SW_INFER_REQUEST);
  EXPECT_EQ(infer(packet(0, "\x16select ?"), false, true), SW_INFER_REQUEST);
  EXPECT_EQ(infer(packet(0, "\x03SELECT 1"), true, false), SW_INFER_NO);  // a fresh connection starts with the greeting
  EXPECT_EQ(infer("GET / HTTP/1.1\r\n"), SW_INFER_NO);
  EXPECT_EQ(infer(packet(1, "\x0a" "8.0")), SW_INFER_NO);
}

}  // namespace
}  // namespace spanwire::mysql
