// A protocol session's throughput benchmark: canned writes of each direction
// fed in turn, as the tracker would (chunks placed, then fed), on a
// connection joined mid-way or seen from its start.
#pragma once

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/protocol_counters.h"
#include "protocol_settings.h"
#include "registry.h"

namespace spanwire::testing {

struct BenchTraffic {
  std::vector<std::string> requests, replies;  // one write each, in turn
  size_t messages = 0;                         // per pass, for items_per_second
  size_t records = 0;                          // a pass must produce at least these
};

inline void run_session_bench(benchmark::State& state, uint8_t protocol, const BenchTraffic& t, bool midstream) {
  struct Discard : RecordSink {
    void record(ExchangeRecord&& r) override {
      benchmark::DoNotOptimize(r);
      ++records;
    }
    size_t records = 0;
  } sink;
  ProtocolSettings settings;
  CounterBoard board;
  ConnectionFacts conn;
  size_t bytes = 0;
  for (const auto& s : t.requests) bytes += s.size();
  for (const auto& s : t.replies) bytes += s.size();
  for (auto _ : state) {
    auto session = make_protocol_session(protocol, SessionContext{settings, board});
    if (midstream) session->start_midstream();
    uint64_t ts = 0, pos[2] = {0, 0};
    for (size_t i = 0; i < t.requests.size(); ++i) {
      session->place_chunk(true, {pos[0], pos[1], 0});
      session->feed(true, t.requests[i], ++ts);
      pos[0] += t.requests[i].size();
      session->place_chunk(false, {pos[1], pos[0], 0});
      session->feed(false, t.replies[i], ++ts);
      pos[1] += t.replies[i].size();
      session->publish(conn, sink);
    }
  }
  if (sink.records < t.records * static_cast<size_t>(state.iterations())) state.SkipWithError("too few spans");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * t.messages));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

}  // namespace spanwire::testing
