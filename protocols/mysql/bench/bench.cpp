// Throughput of the MySQL/MariaDB session (framing, answer shapes, statement
// map, SQL sanitizing and records): COM_QUERY with a text result set, and
// COM_STMT_EXECUTE of a prepared statement with a binary one. Reports
// packets/s (items_per_second) and bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol_ids.h"
#include "support/session_bench.h"

namespace {

using namespace spanwire;

std::string le(uint64_t v, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
std::string packet(uint8_t seq, std::string_view payload) { return le(payload.size(), 3) + static_cast<char>(seq) + std::string(payload); }

spanwire::testing::BenchTraffic build(int n, bool prepared) {
  spanwire::testing::BenchTraffic t;
  const std::string eof("\xfe\0\0\x02\0", 5);
  const std::string column = "\x03" "def" + std::string(40, 'c');
  if (prepared) {
    t.requests.push_back(packet(0, "\x16" "SELECT name, age FROM users WHERE id = ?"));
    t.replies.push_back(packet(1, std::string("\0", 1) + le(1, 4) + le(2, 2) + le(1, 2) + std::string(3, '\0')) +
                        packet(2, column) + packet(3, eof) + packet(4, column) + packet(5, column) + packet(6, eof));
  }
  for (int i = 0; i < n; ++i) {
    if (prepared) {
      t.requests.push_back(packet(0, "\x17" + le(1, 4) + std::string("\0\x01\0\0\0\0\x01\x03\0", 9) + le(42, 4)));
      t.replies.push_back(packet(1, "\x02") + packet(2, column) + packet(3, column) + packet(4, eof) +
                          packet(5, std::string("\0\0\x05" "alice\x2a\0\0\0", 12)) + packet(6, eof));
      t.messages += 7;
    } else {
      t.requests.push_back(packet(0, "\x03" "SELECT name, age FROM users WHERE email = 'user" + std::to_string(i) +
                                         "@example.com' AND active = 1"));
      t.replies.push_back(packet(1, "\x02") + packet(2, column) + packet(3, column) + packet(4, eof) +
                          packet(5, "\x05" "alice\x02" "42") + packet(6, eof));
      t.messages += 7;
    }
  }
  t.records = static_cast<size_t>(n);
  return t;
}

void run(benchmark::State& state, bool prepared) {
  spanwire::testing::run_session_bench(state, protocol_id::MYSQL, build(1000, prepared), /*midstream=*/true);
}

void BM_Mysql_TextQuery(benchmark::State& state) { run(state, false); }
void BM_Mysql_PreparedExecute(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Mysql_TextQuery);
BENCHMARK(BM_Mysql_PreparedExecute);

}  // namespace

BENCHMARK_MAIN();
