// Throughput of the PostgreSQL session (framing, pairing, statement map,
// SQL sanitizing and records): simple queries (psql, psycopg2) and the
// extended protocol (asyncpg: Bind/Execute/Sync of a prepared statement).
// Reports messages/s (items_per_second) and bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol_ids.h"
#include "support/session_bench.h"

namespace {

using namespace spanwire;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string msg(char type, std::string_view body) { return std::string(1, type) + be32(body.size() + 4) + std::string(body); }
std::string cstr(std::string_view s) { return std::string(s) + '\0'; }

spanwire::testing::BenchTraffic build(int n, bool extended) {
  spanwire::testing::BenchTraffic t;
  const std::string row = msg('D', std::string(2, '\0') + be32(5) + "alice" + be32(2) + "42");
  const std::string done = msg('C', cstr("SELECT 1")) + msg('Z', "I");
  if (extended) {
    t.requests.push_back(msg('P', cstr("s1") + cstr("SELECT name, age FROM users WHERE id = $1") + std::string(2, '\0')) +
                         msg('S', ""));
    t.replies.push_back(msg('1', "") + msg('Z', "I"));
  }
  for (int i = 0; i < n; ++i) {
    if (extended) {
      t.requests.push_back(msg('B', cstr("") + cstr("s1") + std::string(4, '\0') + be32(2) + "42" + std::string(2, '\0')) +
                           msg('E', cstr("") + be32(0)) + msg('S', ""));
      t.replies.push_back(msg('2', "") + row + done);
      t.messages += 7;
    } else {
      t.requests.push_back(msg('Q', cstr("SELECT name, age FROM users WHERE email = 'user" + std::to_string(i) +
                                         "@example.com' AND active")));
      t.replies.push_back(msg('T', std::string(40, 'x')) + row + done);
      t.messages += 5;
    }
  }
  t.records = static_cast<size_t>(n);
  return t;
}

void run(benchmark::State& state, bool extended) {
  spanwire::testing::run_session_bench(state, protocol_id::POSTGRES, build(1000, extended), /*midstream=*/true);
}

void BM_Postgres_SimpleQuery(benchmark::State& state) { run(state, false); }
void BM_Postgres_ExtendedExecute(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Postgres_SimpleQuery);
BENCHMARK(BM_Postgres_ExtendedExecute);

}  // namespace

BENCHMARK_MAIN();
