// libFuzzer target: a Redis session fed both directions of a connection in
// random pieces (and, with flag 2, random gaps). Checks that nothing crashes
// or grows without bound, that without gaps the records do not depend on how
// the bytes were split, and that no record carries an argument.
//
// Input layout (tests/support/fuzz_support.h): bytes 0-1 split point, byte 2
// flags (1 = joined mid-way, 2 = gaps), byte 3 seed, then the command stream
// followed by the reply stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol_counters.h"
#include "protocol_ids.h"
#include "protocol_settings.h"
#include "redis/counters.h"
#include "redis/session.h"
#include "support/fuzz_support.h"

namespace {

using namespace spanwire;
using spanwire::fuzz::check;

constexpr uint8_t kMidstream = 1, kGaps = 2;

struct Collected : RecordSink {
  void record(ExchangeRecord&& r) override { records.push_back(std::move(r)); }
  std::vector<ExchangeRecord> records;
};

// What must not depend on the split: the records' names, texts and statuses.
std::vector<std::string> summary(const std::vector<ExchangeRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records)
    out.push_back(r.name + "|" + string_attribute(r.attributes, "db.query.text") + "|" +
                  string_attribute(r.attributes, "db.response.status_code") + "|" + (r.answered ? "a" : "u"));
  return out;
}

// Feeds both directions in pieces drawn from `rng` (whole when null); with
// `interleave` the directions alternate at random, else every command comes
// before every reply.
std::vector<ExchangeRecord> run(std::string_view requests, std::string_view replies, uint8_t flags,
                                fuzz::Xorshift* rng, bool interleave, uint64_t* resyncs = nullptr) {
  ProtocolSettings settings;
  CounterBoard board;
  redis::Session session(SessionContext{settings, board});
  if (flags & kMidstream) session.start_midstream();
  Collected out;
  ConnectionFacts conn;
  uint64_t pos[2] = {0, 0};
  std::string_view left[2] = {requests, replies};
  uint64_t ts = 1;
  while (!left[0].empty() || !left[1].empty()) {
    int d = left[0].empty() ? 1 : left[1].empty() ? 0 : (rng && interleave ? static_cast<int>(rng->below(2)) : 0);
    size_t n = rng ? 1 + rng->below(static_cast<uint32_t>(std::min<size_t>(left[d].size(), 64))) : left[d].size();
    session.place_chunk(d == 0, {pos[d], pos[1 - d], 0});
    if (rng && (flags & kGaps) && rng->below(8) == 0) {
      session.gap(d == 0, n, ts++);
    } else {
      session.feed(d == 0, left[d].substr(0, n), ts++);
    }
    pos[d] += n;
    left[d].remove_prefix(n);
    session.publish(conn, out);
    check(out.records.size() <= 10000, "records bounded");
  }
  session.close(ts);
  session.publish(conn, out);
  if (resyncs) *resyncs = board.of(protocol_id::REDIS).value(redis::counter::resyncs);
  return std::move(out.records);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::decode_input(data, size);
  if (!in) return 0;
  const std::string_view requests = in->payload.substr(0, in->split);
  const std::string_view replies = in->payload.substr(in->split);
  const auto chunked = run(requests, replies, in->flags, &in->rng, true);
  for (const auto& r : chunked) {
    check(!r.name.empty(), "every record is named");
    const std::string text = string_attribute(r.attributes, "db.query.text");
    for (size_t i = 0; i < text.size(); ++i) {  // the operation, then only "?" placeholders
      if (text[i] == ' ') check(i + 1 < text.size() && (text[i + 1] == '?' || text.compare(i, 4, " ...") == 0),
                                "arguments are never echoed");
    }
  }
  if (!(in->flags & (kGaps | kMidstream))) {
    // Split independence: with every command before every reply, pieces of any
    // size give the records that whole directions give, as long as the input
    // never loses sync (resynchronising looks for a command at line starts
    // within one write, so there the writes' boundaries matter by design).
    fuzz::Xorshift rng(in->knob * 31u + 7u);
    uint64_t resyncs = 0;
    const auto whole = run(requests, replies, in->flags, nullptr, false, &resyncs);
    if (resyncs == 0) {
      const auto pieces = run(requests, replies, in->flags, &rng, false);
      check(summary(pieces) == summary(whole), "records independent of the split");
    }
  }
  return 0;
}
