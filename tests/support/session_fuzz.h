// A protocol session driven like a libFuzzer target drives it: both
// directions of a connection in random pieces (and, optionally, random gaps),
// records collected, plus the checks every session must pass.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol_counters.h"
#include "common/protocol_session.h"
#include "protocol_settings.h"
#include "registry.h"
#include "support/fuzz_support.h"

namespace spanwire::fuzz {

inline constexpr uint8_t kMidstream = 1, kGaps = 2;

struct SessionRun {
  std::vector<ExchangeRecord> records;
  uint64_t resyncs = 0;  // the protocol's counter after the run
};

// Feeds `requests` and `replies` in pieces drawn from `rng` (whole when null);
// with `interleave` the directions alternate at random, else every request
// byte comes before every reply byte.
inline SessionRun run_session(uint8_t protocol, std::string_view requests, std::string_view replies, uint8_t flags,
                              Xorshift* rng, bool interleave, size_t resync_counter) {
  ProtocolSettings settings;
  CounterBoard board;
  struct Collected : RecordSink {
    void record(ExchangeRecord&& r) override { records.push_back(std::move(r)); }
    std::vector<ExchangeRecord> records;
  } out;
  const SessionContext context{settings, board};
  std::unique_ptr<ProtocolSession> session = make_protocol_session(protocol, context);
  if (flags & kMidstream) session->start_midstream();
  ConnectionFacts conn;
  uint64_t pos[2] = {0, 0};
  std::string_view left[2] = {requests, replies};
  uint64_t ts = 1;
  while (!left[0].empty() || !left[1].empty()) {
    const int d = left[0].empty() ? 1 : left[1].empty() ? 0 : (rng && interleave ? static_cast<int>(rng->below(2)) : 0);
    const size_t n = rng ? 1 + rng->below(static_cast<uint32_t>(std::min<size_t>(left[d].size(), 64))) : left[d].size();
    session->place_chunk(d == 0, {pos[d], pos[1 - d], 0});
    if (rng && (flags & kGaps) && rng->below(8) == 0) {
      session->gap(d == 0, n, ts++);
    } else {
      session->feed(d == 0, left[d].substr(0, n), ts++);
    }
    pos[d] += n;
    left[d].remove_prefix(n);
    session->publish(conn, out);
    check(out.records.size() <= 100000, "records bounded");
  }
  session->close(ts);
  session->publish(conn, out);
  return {std::move(out.records), board.of(protocol).value(resync_counter)};
}

// What must not depend on how the bytes were split.
inline std::vector<std::string> summary(const std::vector<ExchangeRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records)
    out.push_back(r.name + "|" + string_attribute(r.attributes, "db.query.text") + "|" +
                  string_attribute(r.attributes, "db.response.status_code") + "|" + (r.answered ? "a" : "u"));
  return out;
}

// The checks of every database session: records are named, and with every
// request before every reply and no loss of sync, the split never matters.
inline void check_session(uint8_t protocol, size_t resync_counter, const uint8_t* data, size_t size,
                          const std::function<void(const ExchangeRecord&)>& check_record) {
  auto in = decode_input(data, size);
  if (!in) return;
  const std::string_view requests = in->payload.substr(0, in->split);
  const std::string_view replies = in->payload.substr(in->split);
  for (const auto& r : run_session(protocol, requests, replies, in->flags, &in->rng, true, resync_counter).records) {
    check(!r.name.empty(), "every record is named");
    check_record(r);
  }
  if (in->flags & (kGaps | kMidstream)) return;
  const SessionRun whole = run_session(protocol, requests, replies, in->flags, nullptr, false, resync_counter);
  if (whole.resyncs != 0) return;  // resynchronising looks at write boundaries by design
  Xorshift rng(in->knob * 31u + 7u);
  const SessionRun pieces = run_session(protocol, requests, replies, in->flags, &rng, false, resync_counter);
  check(summary(pieces.records) == summary(whole.records), "records independent of the split");
}

}  // namespace spanwire::fuzz
