// Throughput of the Redis session (RESP framing, pairing and records) on a
// pipelined and a request-by-request connection. Reports messages/s
// (commands and replies, items_per_second) and bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol_ids.h"
#include "support/session_bench.h"

namespace {

using namespace spanwire;

std::string command(std::initializer_list<std::string_view> words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (std::string_view w : words) out += "$" + std::to_string(w.size()) + "\r\n" + std::string(w) + "\r\n";
  return out;
}

spanwire::testing::BenchTraffic build(int n, bool pipelined) {
  spanwire::testing::BenchTraffic t;
  const std::string value(100, 'v');
  for (int i = 0; i < n; ++i) {
    const std::string key = "session:" + std::to_string(i);
    std::string c[3] = {command({"SET", key, value}), command({"GET", key}), command({"HGETALL", "user:" + key})};
    std::string r[3] = {"+OK\r\n", "$100\r\n" + value + "\r\n",
                        "*4\r\n$4\r\nname\r\n$5\r\nalice\r\n$4\r\nseen\r\n$10\r\n1700000000\r\n"};
    if (pipelined) {
      t.requests.push_back(c[0] + c[1] + c[2]);
      t.replies.push_back(r[0] + r[1] + r[2]);
    } else {
      for (int k = 0; k < 3; ++k) {
        t.requests.push_back(c[k]);
        t.replies.push_back(r[k]);
      }
    }
  }
  t.messages = static_cast<size_t>(6 * n);
  t.records = static_cast<size_t>(3 * n);
  return t;
}

void run(benchmark::State& state, bool pipelined) {
  spanwire::testing::run_session_bench(state, protocol_id::REDIS, build(1000, pipelined), /*midstream=*/false);
}

void BM_Redis_RequestByRequest(benchmark::State& state) { run(state, false); }
void BM_Redis_Pipelined(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Redis_RequestByRequest);
BENCHMARK(BM_Redis_Pipelined);

}  // namespace

BENCHMARK_MAIN();
