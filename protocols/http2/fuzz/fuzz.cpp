// libFuzzer target: drives an http2::ConnectionParser with both directions of a
// connection cut into chunks and gaps, and checks invariants on what comes out; also
// exercises the gRPC helpers on the decoded fields.
//
// Input layout:
//   byte 0-1  client/server split point (big-endian, modulo the payload size)
//   byte 2    flags: 1 = start mid-stream, 2 = gaps, 4 = tight limits, 8 = no close()
//   byte 3    seed of the generator that picks chunk sizes, gaps and interleaving
//   rest      payload: the client stream (preface + frames), then the server stream
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grpc/grpc_wire.h"
#include "http2/connection_parser.h"

#include "support/fuzz_support.h"

namespace {

using namespace spanwire::http2;

constexpr uint8_t kMidstream = 1, kGaps = 2, kTightLimits = 4, kNoClose = 8;

using spanwire::fuzz::check;
using spanwire::fuzz::decode_input;
using spanwire::fuzz::FuzzInput;
using spanwire::fuzz::Xorshift;

size_t list_bytes(const std::vector<Header>& fields) {
  size_t n = 0;
  for (const Header& h : fields) n += h.name.size() + h.value.size() + 32;
  return n;
}

void check_side(const StreamSide& s, const Limits& limits, uint64_t max_ts) {
  check(list_bytes(s.headers) <= limits.max_header_list, "header list within limit");
  check(list_bytes(s.trailers) <= limits.max_header_list, "trailer list within limit");
  check(s.first_ts <= s.last_ts || s.last_ts == 0, "timestamps ordered");
  check(s.last_ts <= max_ts, "timestamps from the input");
  check(s.messages == 0 || s.message_bytes + 5 * s.messages <= s.data_bytes, "messages inside DATA");
  for (const Header& h : s.headers) {
    (void)spanwire::grpc_wire::is_grpc(h.value);
    (void)spanwire::grpc_wire::parse_path(h.value);
    (void)spanwire::grpc_wire::decode_message(h.value);
    if (auto st = spanwire::grpc_wire::parse_status(h.value)) (void)spanwire::grpc_wire::status_name(*st);
  }
}

std::vector<Stream> run_plain(const Limits& limits, bool midstream, std::string_view client,
                              std::string_view server, const std::vector<size_t>& client_cuts,
                              const std::vector<size_t>& server_cuts, ParserStats& stats) {
  ConnectionParser p(limits);
  if (midstream) p.start_midstream();
  auto feed = [&](std::string_view s, const std::vector<size_t>& cuts, bool is_client) {
    size_t from = 0;
    for (size_t cut : cuts) {
      if (is_client) p.feed_client(s.substr(from, cut - from), 0);
      else p.feed_server(s.substr(from, cut - from), 0);
      from = cut;
    }
    if (is_client) p.feed_client(s.substr(from), 0);
    else p.feed_server(s.substr(from), 0);
  };
  feed(client, client_cuts, true);
  feed(server, server_cuts, false);
  p.close(0);
  stats = p.stats();
  return p.take_streams();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<FuzzInput> input = decode_input(data, size);
  if (!input) return 0;
  const std::string_view payload = input->payload;
  const size_t split = input->split;
  const uint8_t flags = input->flags;
  Xorshift& rng = input->rng;

  Limits limits;
  if (flags & kTightLimits) {
    limits.max_header_block = 64 + input->knob;
    limits.max_header_list = 96 + input->knob;
    limits.max_open_streams = 1 + input->knob % 4;
    limits.max_buffered_frame = 32 + input->knob;
  }
  ConnectionParser parser(limits);
  if (flags & kMidstream) parser.start_midstream();

  std::string_view dirs[2] = {payload.substr(0, split), payload.substr(split)};
  const std::string_view originals[2] = {dirs[0], dirs[1]};
  std::vector<size_t> cuts[2];
  size_t consumed[2] = {0, 0};
  uint64_t ts = 1;
  std::vector<Stream> streams;
  while (!dirs[0].empty() || !dirs[1].empty()) {
    const int d = dirs[0].empty() ? 1 : dirs[1].empty() ? 0 : int(rng.below(2));
    ts += rng.below(3);
    if ((flags & kGaps) && rng.below(16) == 0) {
      const uint64_t n = rng.below(4) == 0 ? (uint64_t{1} << rng.below(21)) : 1 + rng.below(64);
      const size_t dropped = static_cast<size_t>(std::min<uint64_t>(n, dirs[d].size()));
      dirs[d].remove_prefix(dropped);
      if (d == 0) parser.gap_client(n, ts);
      else parser.gap_server(n, ts);
      continue;
    }
    const size_t want = rng.below(8) == 0 ? 1 + rng.below(1024) : 1 + rng.below(16);
    const std::string_view chunk = dirs[d].substr(0, want);
    dirs[d].remove_prefix(chunk.size());
    consumed[d] += chunk.size();
    cuts[d].push_back(consumed[d]);
    if (d == 0) parser.feed_client(chunk, ts);
    else parser.feed_server(chunk, ts);
    for (Stream& s : parser.take_streams()) streams.push_back(std::move(s));
    check(parser.open_streams() <= limits.max_open_streams, "open streams bounded");
  }
  if (!(flags & kNoClose)) {
    parser.close(ts + 1);
    check(parser.open_streams() == 0, "close empties the open set");
  }
  for (Stream& s : parser.take_streams()) streams.push_back(std::move(s));

  const ParserStats& stats = parser.stats();
  check(streams.size() <= stats.streams, "streams emitted at most once");
  if (!(flags & kNoClose)) check(streams.size() == stats.streams, "every stream emitted");
  for (const Stream& s : streams) {
    check(s.id != 0, "stream id");
    check_side(s.request, limits, ts + 1);
    check_side(s.response, limits, ts + 1);
    check(!s.refused || s.goaway_error.has_value(), "refused by a GOAWAY");
  }
  check(stats.hpack_uncertain_blocks <= stats.header_blocks, "uncertain blocks counted once");

  // Feed boundaries never matter (gap-free inputs).
  if (!(flags & kGaps)) {
    std::vector<size_t> c0 = cuts[0], c1 = cuts[1];
    if (!c0.empty()) c0.pop_back();
    if (!c1.empty()) c1.pop_back();
    ParserStats a, b;
    std::vector<Stream> whole = run_plain(limits, flags & kMidstream, originals[0], originals[1], {}, {}, a);
    std::vector<Stream> pieces = run_plain(limits, flags & kMidstream, originals[0], originals[1], c0, c1, b);
    check(whole == pieces, "split independence");
    check(a.frames == b.frames && a.header_blocks == b.header_blocks && a.errors == b.errors &&
              a.skipped_bytes == b.skipped_bytes && a.streams == b.streams,
          "split independence (stats)");
  }
  return 0;
}
