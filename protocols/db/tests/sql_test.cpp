// SQL sanitizing and summaries (protocols/db/sql.h): no literal survives.
#include "db/sql.h"

#include <gtest/gtest.h>

namespace spanwire::db {
namespace {

SqlFacts pg(std::string_view sql) { return sanitize_sql(sql, Dialect::kPostgres); }
SqlFacts my(std::string_view sql) { return sanitize_sql(sql, Dialect::kMySql); }

TEST(Sql, LiteralsBecomePlaceholders) {
  auto f = pg("SELECT * FROM users WHERE email = 'alice@example.com' AND age > 42 AND score < -1.5e3");
  EXPECT_EQ(f.text, "SELECT * FROM users WHERE email = ? AND age > ? AND score < -?");
  EXPECT_EQ(f.operation, "SELECT");
  EXPECT_EQ(f.tables, (std::vector<std::string>{"users"}));
  EXPECT_EQ(query_summary(f), "SELECT users");
}

TEST(Sql, EveryPostgresStringForm) {
  auto f = pg("INSERT INTO t (a, b, c, d) VALUES ('it''s', E'\\x41\\'q', $body$ secret $body$, $$x$$) RETURNING id");
  EXPECT_EQ(f.text, "INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?) RETURNING id");
  EXPECT_EQ(query_summary(f), "INSERT t");
  EXPECT_EQ(pg("SELECT $1::int, $2").text, "SELECT $1::int, $2");  // parameters stay
  EXPECT_EQ(pg("SELECT X'1F', B'101', 0xFF").text, "SELECT ?, ?, ?");
}

TEST(Sql, MySqlStringsAndIdentifiers) {
  auto f = my("UPDATE `shop`.`orders` SET note = \"pa\\\"ss\", total = 9.99 WHERE id = ? # trailing");
  EXPECT_EQ(f.text, "UPDATE `shop`.`orders` SET note = ?, total = ? WHERE id = ?");
  EXPECT_EQ(f.tables, (std::vector<std::string>{"shop.orders"}));
  EXPECT_EQ(query_summary(f), "UPDATE shop.orders");
}

TEST(Sql, BacktickNameHoldingADoubleQuoteIsNeverEchoed) {
  // Found by fuzz_mysql: a " inside a backtick name may be a literal's remains.
  EXPECT_EQ(my("SELECT `a\"b` FROM t").text, "SELECT ? FROM t");
  EXPECT_EQ(my("SELECT `a` FROM t").text, "SELECT `a` FROM t");
}

TEST(Sql, CommentsGoAndWhitespaceCollapses) {
  auto f = pg("/* app=web password='x' */ SELECT  1 -- note 'y'\n FROM /* nested /* twice */ */ dual");
  EXPECT_EQ(f.text, "SELECT ? FROM dual");
  EXPECT_EQ(f.text.find("password"), std::string::npos);
}

TEST(Sql, JoinsAndSchemaQualifiedNames) {
  auto f = pg("SELECT o.id FROM public.orders o JOIN \"Items\" i ON i.order_id = o.id LEFT JOIN users u ON true");
  EXPECT_EQ(f.tables, (std::vector<std::string>{"public.orders", "Items", "users"}));
  EXPECT_EQ(query_summary(f), "SELECT public.orders Items users");
  EXPECT_EQ(query_summary(pg("DELETE FROM ONLY sessions WHERE t < now()")), "DELETE sessions");
  EXPECT_EQ(query_summary(pg("CREATE TABLE IF NOT EXISTS kv (k text)")), "CREATE kv");
  EXPECT_EQ(query_summary(pg("SELECT * FROM (SELECT 1) s")), "SELECT");
  EXPECT_EQ(query_summary(pg("BEGIN")), "BEGIN");
}

TEST(Sql, CutTextAndGarbageNeverLeakOrFail) {
  EXPECT_EQ(pg("SELECT 'unterminated secr").text, "SELECT ?");
  EXPECT_EQ(pg("").operation, "");
  const std::string huge = "SELECT " + std::string(10000, 'a');
  EXPECT_LE(pg(huge).text.size(), kMaxSqlText);
  EXPECT_EQ(pg("\x01\x02 'x'").text.find('x'), std::string::npos);
}

}  // namespace
}  // namespace spanwire::db
