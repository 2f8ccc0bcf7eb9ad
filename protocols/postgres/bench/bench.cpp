// Throughput of the PostgreSQL session (framing, pairing, statement map,
// SQL sanitizing and records): simple queries (psql, psycopg2) and the
// extended protocol (asyncpg: Bind/Execute/Sync of a prepared statement).
// Reports messages/s (items_per_second) and bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/protocol_counters.h"
#include "postgres/session.h"
#include "protocol_settings.h"

namespace {

using namespace spanwire;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string msg(char type, std::string_view body) { return std::string(1, type) + be32(body.size() + 4) + std::string(body); }
std::string cstr(std::string_view s) { return std::string(s) + '\0'; }

struct Traffic {
  std::vector<std::string> requests, replies;
  size_t bytes = 0, messages = 0;
};

Traffic build(int n, bool extended) {
  Traffic t;
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
  for (const auto& s : t.requests) t.bytes += s.size();
  for (const auto& s : t.replies) t.bytes += s.size();
  return t;
}

struct Discard : RecordSink {
  void record(ExchangeRecord&& r) override {
    benchmark::DoNotOptimize(r);
    ++records;
  }
  size_t records = 0;
};

void run(benchmark::State& state, bool extended) {
  const Traffic t = build(1000, extended);
  ProtocolSettings settings;
  CounterBoard board;
  ConnectionFacts conn;
  Discard sink;
  for (auto _ : state) {
    postgres::Session s(SessionContext{settings, board});
    s.start_midstream();  // no startup in the traffic: a pooled connection
    uint64_t ts = 0, pos[2] = {0, 0};
    for (size_t i = 0; i < t.requests.size(); ++i) {
      s.place_chunk(true, {pos[0], pos[1], 0});
      s.feed(true, t.requests[i], ++ts);
      pos[0] += t.requests[i].size();
      s.place_chunk(false, {pos[1], pos[0], 0});
      s.feed(false, t.replies[i], ++ts);
      pos[1] += t.replies[i].size();
      s.publish(conn, sink);
    }
  }
  if (sink.records < 1000) state.SkipWithError("the traffic made no spans");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * t.messages));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * t.bytes));
}

void BM_Postgres_SimpleQuery(benchmark::State& state) { run(state, false); }
void BM_Postgres_ExtendedExecute(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Postgres_SimpleQuery);
BENCHMARK(BM_Postgres_ExtendedExecute);

}  // namespace

BENCHMARK_MAIN();
