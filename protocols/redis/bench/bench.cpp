// Throughput of the Redis session (RESP framing, pairing and records) on a
// pipelined and a request-by-request connection. Reports messages/s
// (commands and replies, items_per_second) and bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/protocol_counters.h"
#include "protocol_settings.h"
#include "redis/session.h"

namespace {

using namespace spanwire;

std::string command(std::initializer_list<std::string_view> words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (std::string_view w : words) out += "$" + std::to_string(w.size()) + "\r\n" + std::string(w) + "\r\n";
  return out;
}

struct Traffic {
  std::vector<std::string> commands, replies;  // one write each
  size_t bytes = 0;
};

// `n` rounds of SET/GET/HGETALL; pipelined: each round in one write.
Traffic build(int n, bool pipelined) {
  Traffic t;
  const std::string value(100, 'v');
  for (int i = 0; i < n; ++i) {
    const std::string key = "session:" + std::to_string(i);
    std::string c[3] = {command({"SET", key, value}), command({"GET", key}), command({"HGETALL", "user:" + key})};
    std::string r[3] = {"+OK\r\n", "$100\r\n" + value + "\r\n",
                        "*4\r\n$4\r\nname\r\n$5\r\nalice\r\n$4\r\nseen\r\n$10\r\n1700000000\r\n"};
    if (pipelined) {
      t.commands.push_back(c[0] + c[1] + c[2]);
      t.replies.push_back(r[0] + r[1] + r[2]);
    } else {
      for (int k = 0; k < 3; ++k) {
        t.commands.push_back(c[k]);
        t.replies.push_back(r[k]);
      }
    }
  }
  for (const auto& s : t.commands) t.bytes += s.size();
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

void run(benchmark::State& state, bool pipelined) {
  const Traffic t = build(1000, pipelined);
  ProtocolSettings settings;
  CounterBoard board;
  ConnectionFacts conn;
  Discard sink;
  for (auto _ : state) {
    redis::Session s(SessionContext{settings, board});
    uint64_t ts = 0;
    for (size_t i = 0; i < t.commands.size(); ++i) {
      s.feed(true, t.commands[i], ++ts);
      s.feed(false, t.replies[i], ++ts);
      s.publish(conn, sink);
    }
  }
  if (sink.records < 3000) state.SkipWithError("the traffic made no spans");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 6000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * t.bytes));
}

void BM_Redis_RequestByRequest(benchmark::State& state) { run(state, false); }
void BM_Redis_Pipelined(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Redis_RequestByRequest);
BENCHMARK(BM_Redis_Pipelined);

}  // namespace

BENCHMARK_MAIN();
