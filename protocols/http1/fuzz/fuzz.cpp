// libFuzzer target: drives an http1::ExchangeMatcher with both directions of a
// connection cut into chunks and gaps, and checks invariants on what comes out.
//
// Input layout (so that seeds can be plain, realistic HTTP):
//   byte 0-1  request/response split point (big-endian, modulo the payload size)
//   byte 2    flags: 1 = start mid-stream, 2 = gaps, 4 = tight limits, 8 = no close()
//   byte 3    seed of the generator that picks chunk sizes, gaps and interleaving
//   rest      payload: the request stream, then the response stream
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <linux/types.h>

#include "http1/detect.h"
#include "http1/exchange_matcher.h"
#include "http1/framing.h"
#include "http1/infer.h"
#include "http1/parser.h"

#include "support/fuzz_support.h"

namespace {

using namespace spanwire::http1;

constexpr uint8_t kMidstream = 1, kGaps = 2, kTightLimits = 4, kNoClose = 8;

using spanwire::fuzz::check;
using spanwire::fuzz::decode_input;
using spanwire::fuzz::FuzzInput;
using spanwire::fuzz::Xorshift;

bool parse_digits(const std::string* value, uint64_t& out) {
  if (value == nullptr || value->empty() || value->size() > 18) return false;
  out = 0;
  for (char c : *value) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

// One direction of the connection as the driver delivers it.
struct Direction {
  std::string_view bytes;  // still to deliver
  uint64_t position = 0;   // bytes + gaps delivered so far
  bool had_gap = false;
  std::vector<size_t> cuts;  // feed boundaries within `bytes` (for the split check)
  size_t consumed = 0;
};

void check_message(const Message& m, Kind kind, const Limits& limits, const Direction& dir) {
  check(m.kind == kind, "kind");
  check(m.header_bytes <= limits.max_header_bytes, "head within limit");
  check(m.headers.size() <= limits.max_headers, "header count within limit");
  check(m.trailers.size() <= limits.max_headers, "trailer count within limit");
  check(m.stream_offset + m.header_bytes <= dir.position, "head inside the stream");
  check(m.stream_offset + m.header_bytes + m.body_bytes <= dir.position, "body inside the stream");
  check(m.first_ts <= m.last_ts, "timestamps ordered");
  check(!m.body_had_gap || dir.had_gap, "body gap needs a gap");
  check(m.complete || !m.chunked || m.trailers.empty(), "trailers only on complete bodies");
  uint64_t length = 0;
  const bool framed_by_length = !m.chunked && m.header("transfer-encoding") == nullptr &&
                                parse_digits(m.header("content-length"), length);
  if (m.complete && framed_by_length) {
    // Requests always carry their Content-Length; responses either do or have no body.
    if (kind == Kind::kRequest || m.body_bytes != 0) check(m.body_bytes == length, "Content-Length");
  }
  if (framed_by_length) check(m.body_bytes <= length, "body within Content-Length");
}

// Feeding the same bytes whole or cut anywhere must give the same messages.
void check_split_independence(Kind kind, std::string_view stream, const std::vector<size_t>& cuts,
                              const Limits& limits) {
  Parser whole(kind, limits), pieces(kind, limits);
  whole.feed(stream, 0);
  size_t from = 0;
  for (size_t cut : cuts) {
    pieces.feed(stream.substr(from, cut - from), 0);
    from = cut;
  }
  pieces.feed(stream.substr(from), 0);
  whole.close(0);
  pieces.close(0);
  check(whole.take_messages() == pieces.take_messages(), "split independence");
  check(whole.stats().errors == pieces.stats().errors, "split independence (errors)");
  check(whole.stats().skipped_bytes == pieces.stats().skipped_bytes, "split independence (skips)");
}

// The kernel's framing search (framing.h) on the first message of a stream:
// for a head the parser accepts, the head's end and the body length the
// kernel reports must be the parser's own, or the kernel would leave
// uncopied bytes the parser needs.
void check_kernel_framing(Kind kind, std::string_view stream) {
  if (stream.size() < 16) return;
  __u64 w0 = 0;
  std::memcpy(&w0, stream.data(), 8);
  if (!sw_http1_method(w0) && !SW_PREFIX_IS(w0, "HTTP/1.")) return;  // the kernel would not look
  std::string buf(stream);
  buf.resize(stream.size() + SW_FRAMING_SLACK + 8, '\0');
  const auto* h = reinterpret_cast<const __u8*>(buf.data());
  sw_framing_scan s;
  sw_framing_start(&s, static_cast<__u32>(std::min<size_t>(stream.size(), SW_FRAMING_SCAN_BYTES)));
  for (__u32 i = 0; i < SW_FRAMING_SCAN_BYTES / 8; i++)
    if (sw_framing_word(&s, h, i)) break;
  if (s.end == 0) return;
  const __s64 length = sw_framing_length(&s, h);
  if (length < 0) return;  // no claim: the body is copied
  Parser parser(kind, Limits{});  // the sensor's: heads far longer than the kernel looks at
  parser.feed(stream, 0);
  parser.close(0);
  std::vector<Message> messages = parser.take_messages();
  // A head the parser refuses is resynchronised past whatever the kernel does.
  if (messages.empty() || messages.front().stream_offset != 0) return;
  const Message& m = messages.front();
  check(m.header_bytes == s.end, "kernel framing: head end");
  uint64_t parsed = 0;
  check(!m.chunked && m.header("transfer-encoding") == nullptr && parse_digits(m.header("content-length"), parsed) &&
            parsed == static_cast<uint64_t>(length),
        "kernel framing: Content-Length");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<FuzzInput> input = decode_input(data, size);
  if (!input) return 0;
  const std::string_view payload = input->payload;
  const size_t split = input->split;
  const uint8_t flags = input->flags;
  Xorshift& rng = input->rng;

  (void)looks_like_request_line(payload);
  (void)looks_like_status_line(payload);
  (void)match_request_line(payload.substr(split));

  Limits limits;
  if (flags & kTightLimits) {
    limits.max_header_bytes = 48 + input->knob;
    limits.max_headers = 3;
  }
  ExchangeMatcher matcher(limits);
  if (flags & kMidstream) matcher.start_midstream();

  Direction dirs[2];  // 0 = requests, 1 = responses
  dirs[0].bytes = payload.substr(0, split);
  dirs[1].bytes = payload.substr(split);
  const std::string_view originals[2] = {dirs[0].bytes, dirs[1].bytes};

  uint64_t ts = 1;
  std::vector<Exchange> exchanges;
  while (!dirs[0].bytes.empty() || !dirs[1].bytes.empty()) {
    const int d = dirs[0].bytes.empty() ? 1 : dirs[1].bytes.empty() ? 0 : int(rng.below(2));
    Direction& dir = dirs[d];
    ts += rng.below(3);
    if ((flags & kGaps) && rng.below(16) == 0) {
      // Lost bytes: some of what is left, or a large gap such as a sendfile body.
      const uint64_t n = rng.below(4) == 0 ? (uint64_t{1} << rng.below(21)) : 1 + rng.below(64);
      const size_t dropped = static_cast<size_t>(std::min<uint64_t>(n, dir.bytes.size()));
      dir.bytes.remove_prefix(dropped);
      dir.position += n;
      dir.had_gap = true;
      if (d == 0) matcher.gap_request(n, ts);
      else matcher.gap_response(n, ts);
      continue;
    }
    const size_t want = rng.below(8) == 0 ? 1 + rng.below(1024) : 1 + rng.below(16);
    const std::string_view chunk = dir.bytes.substr(0, want);
    dir.bytes.remove_prefix(chunk.size());
    dir.position += chunk.size();
    dir.consumed += chunk.size();
    dir.cuts.push_back(dir.consumed);
    if (d == 0) matcher.feed_request(chunk, ts);
    else matcher.feed_response(chunk, ts);
    for (Exchange& x : matcher.take_exchanges()) exchanges.push_back(std::move(x));
  }
  if (!(flags & kNoClose)) matcher.close(ts + 1);
  for (Exchange& x : matcher.take_exchanges()) exchanges.push_back(std::move(x));

  // Every exchange: well-formed halves, requests in stream order.
  uint64_t answered = 0;
  const Message* previous = nullptr;
  for (const Exchange& x : exchanges) {
    check_message(x.request, Kind::kRequest, limits, dirs[0]);
    if (previous) check(x.request.stream_offset > previous->stream_offset, "requests in order");
    previous = &x.request;
    if (x.response) {
      ++answered;
      check_message(*x.response, Kind::kResponse, limits, dirs[1]);
      check(x.response->status_code < 100 || x.response->status_code >= 200 ||
                x.response->status_code == 101,
            "interim responses are not final");
    }
    check(x.interim.size() <= ExchangeMatcher::kMaxInterim, "interim bounded");
  }
  const MatcherStats& stats = matcher.stats();
  check(stats.exchanges == exchanges.size(), "exchange count");
  check(stats.unanswered == exchanges.size() - answered, "unanswered count");
  if (!(flags & kNoClose)) {
    // After close every request has become exactly one exchange or was counted as
    // left out, and every response message was paired, or counted as orphan,
    // informational or left out, once. (Before close a head still in progress may
    // already have been judged.)
    check(stats.exchanges + stats.requests_unpaired_after_loss + stats.dropped_over_bound ==
              matcher.request_stats().messages,
          "every request exchanged or counted");
    const uint64_t responses_accounted =
        answered + stats.orphan_responses + stats.informational + stats.responses_unpaired_after_loss;
    check(responses_accounted <= matcher.response_stats().messages, "every response accounted at most once");
    if (matcher.request_stats().messages < ExchangeMatcher::kMaxPending) {  // nothing evicted
      check(responses_accounted == matcher.response_stats().messages, "every response accounted");
    }
  }

  check_kernel_framing(Kind::kRequest, originals[0]);
  check_kernel_framing(Kind::kResponse, originals[1]);

  // Feed boundaries never matter (checked on the gap-free streams).
  for (int d = 0; d < 2; ++d) {
    std::vector<size_t> cuts = dirs[d].cuts;
    if (!cuts.empty()) cuts.pop_back();  // the last cut is the end of the stream
    if (!(flags & kGaps)) {
      check_split_independence(d == 0 ? Kind::kRequest : Kind::kResponse, originals[d], cuts,
                               limits);
    }
  }
  return 0;
}
