// Unit tests for the HTTP/2 connection parser: realistic connections built with
// nghttp2's HPACK deflater, fed whole, byte by byte, with gaps, corruption and joins.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include "support/hpack_deflater.h"
#include "support/http2_frames.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grpc/grpc_wire.h"
#include "grpc/layer.h"
#include "http2/connection_parser.h"
#include "http2/frame.h"

namespace spanwire::http2 {

// Readable gtest output (inline: the same definition is in other test files).
inline void PrintTo(const Header& h, std::ostream* os) { *os << h.name << ": " << h.value; }

namespace {

using spanwire::testing::Fields;

using Deflater = spanwire::testing::HpackDeflater;

std::vector<Header> H(const Fields& fields) {
  std::vector<Header> out;
  for (const auto& [n, v] : fields) out.push_back({n, v});
  return out;
}

using spanwire::testing::frame;

std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& values) {
  std::string p;
  for (auto [id, v] : values) {
    append_u16(p, id);
    append_u32(p, v);
  }
  return frame(FrameType::kSettings, 0, 0, p);
}
std::string settings_ack() { return frame(FrameType::kSettings, flags::kAck, 0, ""); }
std::string u32(uint32_t v) {
  std::string s;
  append_u32(s, v);
  return s;
}
std::string rst(uint32_t stream, uint32_t code) { return frame(FrameType::kRstStream, 0, stream, u32(code)); }
std::string goaway(uint32_t last, uint32_t code, std::string_view debug = "") {
  return frame(FrameType::kGoaway, 0, 0, u32(last) + u32(code) + std::string(debug));
}
std::string ping(bool ack = false) { return frame(FrameType::kPing, ack ? flags::kAck : 0, 0, "12345678"); }
std::string window_update(uint32_t stream, uint32_t inc) { return frame(FrameType::kWindowUpdate, 0, stream, u32(inc)); }
std::string priority(uint32_t stream, uint32_t dep, uint8_t weight) {
  return frame(FrameType::kPriority, 0, stream, u32(dep) + std::string(1, static_cast<char>(weight)));
}
std::string headers(uint32_t stream, const std::string& block, bool end_stream) {
  return frame(FrameType::kHeaders, flags::kEndHeaders | (end_stream ? flags::kEndStream : 0), stream, block);
}
std::string data(uint32_t stream, std::string_view payload, bool end_stream) {
  return frame(FrameType::kData, end_stream ? flags::kEndStream : 0, stream, payload);
}
std::string grpc_message(std::string_view payload, bool compressed = false) {
  std::string out(1, compressed ? '\1' : '\0');
  append_u32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

// Both directions of a connection under construction.
struct Conn {
  Deflater client_hpack, server_hpack;
  std::string client{kClientPreface}, server;
  Conn() {
    client += settings({{settings::kEnablePush, 0}, {settings::kInitialWindowSize, 65535}});
    server += settings({{settings::kMaxConcurrentStreams, 100}}) + settings_ack();
    client += settings_ack();
  }
  void request(uint32_t id, const Fields& f, bool end_stream) { client += headers(id, client_hpack.encode(f), end_stream); }
  void response(uint32_t id, const Fields& f, bool end_stream) { server += headers(id, server_hpack.encode(f), end_stream); }
};

// Feeds each direction in pieces of `chunk` bytes (0 = whole), client first.
std::vector<Stream> run(ConnectionParser& p, const std::string& client, const std::string& server,
                        size_t chunk = 0, bool close = true) {
  uint64_t ts = 1000;
  auto feed = [&](const std::string& s, bool is_client) {
    const size_t step = chunk == 0 ? std::max<size_t>(s.size(), 1) : chunk;
    for (size_t at = 0; at < s.size(); at += step) {
      const std::string_view piece = std::string_view(s).substr(at, step);
      if (is_client) p.feed_client(piece, ts);
      else p.feed_server(piece, ts);
    }
  };
  feed(client, true);
  feed(server, false);
  if (close) p.close(ts + 1);
  return p.take_streams();
}

// gRPC's layer counts the messages of application/grpc stream sides.
DataTapFactory grpc_taps() {
  static const grpc::Layer layer;
  return [](const StreamSide& side) { return layer.tap(side); };
}

// As the daemon's HTTP/2 session runs it: with gRPC's layer.
std::vector<Stream> run(const std::string& client, const std::string& server, size_t chunk = 0) {
  ConnectionParser p;
  p.set_data_taps(grpc_taps());
  return run(p, client, server, chunk);
}

const Stream* by_id(const std::vector<Stream>& streams, uint32_t id) {
  for (const Stream& s : streams) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

// Every decoded field must appear, with this value, in the truth (no guessed values).
void expect_subset(const std::vector<Header>& got, const Fields& truth) {
  for (const Header& h : got) {
    bool found = false;
    for (const auto& [n, v] : truth) found |= (n == h.name && v == h.value);
    EXPECT_TRUE(found) << h.name << ": " << h.value;
  }
}

const Fields kGetRequest = {{":method", "GET"},
                            {":scheme", "https"},
                            {":authority", "www.example.com"},
                            {":path", "/products/42?ref=homepage"},
                            {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
                            {"accept", "text/html,application/xhtml+xml"},
                            {"accept-language", "en-US,en;q=0.5"},
                            {"accept-encoding", "gzip, deflate, br"}};
const Fields kOkResponse = {{":status", "200"},
                            {"content-type", "text/html; charset=utf-8"},
                            {"content-length", "1234"},
                            {"cache-control", "private, max-age=0"},
                            {"date", "Tue, 05 Mar 2024 10:15:02 GMT"}};

TEST(Http2Connection, SimpleExchangeWithHuffmanHeaders) {
  Conn c;
  c.request(1, kGetRequest, true);
  c.response(1, kOkResponse, false);
  c.server += data(1, std::string(1000, 'a'), false) + data(1, std::string(234, 'b'), true);
  ConnectionParser p;
  p.feed_client(c.client, 10);
  p.feed_server(c.server, 20);
  std::vector<Stream> streams = p.take_streams();
  ASSERT_EQ(streams.size(), 1u);
  const Stream& s = streams[0];
  EXPECT_EQ(s.id, 1u);
  EXPECT_EQ(s.request.headers, H(kGetRequest));
  EXPECT_EQ(s.response.headers, H(kOkResponse));
  EXPECT_EQ(*s.request.header(":path"), "/products/42?ref=homepage");
  EXPECT_EQ(s.request.header("x-missing"), nullptr);
  EXPECT_EQ(s.request.data_bytes, 0u);
  EXPECT_EQ(s.response.data_bytes, 1234u);
  EXPECT_TRUE(s.request.end_stream && s.response.end_stream && s.complete());
  EXPECT_EQ(s.request.first_ts, 10u);
  EXPECT_EQ(s.response.first_ts, 20u);
  EXPECT_EQ(s.response.last_ts, 20u);
  EXPECT_FALSE(s.request.headers_uncertain || s.response.headers_uncertain);
  EXPECT_FALSE(s.rst_error || s.goaway_error);
  EXPECT_EQ(s.response.messages, 0u);  // not gRPC
  EXPECT_EQ(p.stats().frames, 3u + 5u);  // SETTINGS, ACK, HEADERS / SETTINGS, ACK, HEADERS, 2 DATA
  EXPECT_EQ(p.stats().header_blocks, 2u);
  EXPECT_EQ(p.stats().streams, 1u);
  EXPECT_EQ(p.stats().errors, 0u);
  EXPECT_FALSE(p.stats().hpack_state_unknown);
}

TEST(Http2Connection, TimestampsOfFirstAndLastFrameBytes) {
  Conn c;
  c.request(1, kGetRequest, false);
  const std::string body = data(1, "payload", true);
  ConnectionParser p;
  p.feed_client(c.client.substr(0, c.client.size() - 3), 100);
  p.feed_client(c.client.substr(c.client.size() - 3), 110);
  p.feed_client(body.substr(0, 4), 120);
  p.feed_client(body.substr(4), 130);
  c.response(1, {{":status", "204"}}, true);
  p.feed_server(c.server, 140);
  std::vector<Stream> streams = p.take_streams();
  ASSERT_EQ(streams.size(), 1u);
  // The HEADERS frame began in the chunk at ts 100 (it is longer than 3 bytes).
  EXPECT_EQ(streams[0].request.first_ts, 100u);
  EXPECT_EQ(streams[0].request.last_ts, 130u);
  EXPECT_EQ(streams[0].request.data_bytes, 7u);
  EXPECT_EQ(streams[0].response.first_ts, 140u);
}

// A connection exercising every frame type, padding, priority, CONTINUATION, push,
// interleaving, RST_STREAM and GOAWAY.
struct RichConnection {
  Conn c;
  RichConnection() {
    c.client += priority(3, 0, 200) + window_update(0, 1 << 20) + ping();
    // Stream 1: request header block in HEADERS (PADDED + PRIORITY) + 2 CONTINUATION.
    const std::string block = c.client_hpack.encode(kGetRequest);
    const size_t a = block.size() / 3, b = 2 * block.size() / 3;
    c.client += frame(FrameType::kHeaders, flags::kPadded | flags::kPriority | flags::kEndStream, 1,
                      std::string("\x04", 1) + u32(0x80000000u) + "\x10" + block.substr(0, a) + std::string(4, '\0'));
    c.client += frame(FrameType::kContinuation, 0, 1, block.substr(a, b - a));
    c.client += frame(FrameType::kContinuation, flags::kEndHeaders, 1, block.substr(b));
    // Stream 3: POST with a padded DATA body, interleaved with stream 5.
    c.request(3, {{":method", "POST"}, {":scheme", "https"}, {":authority", "www.example.com"},
                  {":path", "/api/orders"}, {"content-type", "application/json"}}, false);
    c.request(5, {{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"},
                  {":path", "/cancel-me"}}, false);
    c.client += frame(FrameType::kData, flags::kPadded, 3, std::string("\x05", 1) + "{\"qty\":" + std::string(5, '\0'));
    c.client += data(3, "2}", true) + rst(5, static_cast<uint32_t>(ErrorCode::kCancel));
    c.client += frame(static_cast<FrameType>(0x0a), 0, 0, "extension frame") + ping(true);
    c.request(7, {{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"},
                  {":path", "/too-late"}}, true);

    c.server += ping(true) + window_update(1, 4096);
    // Push stream 2 promised on stream 1, then the responses, interleaved.
    const std::string push_block = c.server_hpack.encode(
        {{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"}, {":path", "/style.css"}});
    c.server += frame(FrameType::kPushPromise, flags::kEndHeaders | flags::kPadded, 1,
                      std::string("\x02", 1) + u32(2) + push_block + std::string(2, '\0'));
    c.response(1, kOkResponse, false);
    c.response(3, {{":status", "201"}, {"content-type", "application/json"}, {"location", "/api/orders/77"}}, false);
    c.server += data(1, std::string(600, 'x'), false);
    c.response(2, {{":status", "200"}, {"content-type", "text/css"}}, false);
    c.server += data(3, "{\"id\":77}", true) + data(1, std::string(634, 'y'), true) + data(2, "body{}", true);
    c.server += goaway(3, static_cast<uint32_t>(ErrorCode::kNoError), "graceful");
  }
};

void check_rich(const std::vector<Stream>& streams, const ParserStats& stats) {
  ASSERT_EQ(streams.size(), 5u);
  const Stream* s1 = by_id(streams, 1);
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(s1->request.headers, H(kGetRequest));
  EXPECT_EQ(s1->response.headers, H(kOkResponse));
  EXPECT_EQ(s1->response.data_bytes, 1234u);
  EXPECT_TRUE(s1->complete());
  const Stream* s3 = by_id(streams, 3);
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(s3->request.data_bytes, 9u);  // "{\"qty\":" + "2}", padding excluded
  EXPECT_EQ(*s3->response.header("location"), "/api/orders/77");
  EXPECT_EQ(s3->response.data_bytes, 9u);
  EXPECT_TRUE(s3->complete());
  const Stream* s5 = by_id(streams, 5);
  ASSERT_NE(s5, nullptr);
  EXPECT_EQ(s5->rst_error, static_cast<uint32_t>(ErrorCode::kCancel));
  EXPECT_EQ(*s5->request.header(":path"), "/cancel-me");
  EXPECT_TRUE(s5->complete());
  const Stream* s2 = by_id(streams, 2);
  ASSERT_NE(s2, nullptr);
  EXPECT_EQ(*s2->request.header(":path"), "/style.css");
  EXPECT_EQ(*s2->response.header("content-type"), "text/css");
  EXPECT_EQ(s2->response.data_bytes, 6u);
  EXPECT_TRUE(s2->complete());
  const Stream* s7 = by_id(streams, 7);  // above the GOAWAY's last_stream_id
  ASSERT_NE(s7, nullptr);
  EXPECT_TRUE(s7->refused);
  EXPECT_EQ(s7->goaway_error, 0u);
  EXPECT_EQ(*s7->request.header(":path"), "/too-late");
  EXPECT_EQ(stats.resets, 1u);
  EXPECT_EQ(stats.goaways, 1u);
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_EQ(stats.header_blocks, 8u);  // 4 requests, PUSH_PROMISE, 3 responses
  EXPECT_EQ(stats.streams, 5u);
  EXPECT_FALSE(stats.hpack_state_unknown);
}

TEST(Http2Connection, EveryFrameTypeWholeFeed) {
  RichConnection r;
  ConnectionParser p;
  std::vector<Stream> streams = run(p, r.c.client, r.c.server);
  check_rich(streams, p.stats());
  EXPECT_EQ(p.stats().frames, 16u + 13u);
}

TEST(Http2Connection, SplitAtEveryByteGivesIdenticalResults) {
  RichConnection r;
  ConnectionParser whole, bytes, sevens;
  std::vector<Stream> a = run(whole, r.c.client, r.c.server, 0);
  std::vector<Stream> b = run(bytes, r.c.client, r.c.server, 1);
  std::vector<Stream> c = run(sevens, r.c.client, r.c.server, 7);
  check_rich(a, whole.stats());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(whole.stats().frames, bytes.stats().frames);
  EXPECT_EQ(whole.stats().header_blocks, bytes.stats().header_blocks);
  EXPECT_EQ(whole.stats().errors, bytes.stats().errors);
}

TEST(Http2Connection, ManyInterleavedStreamsPairedById) {
  Conn c;
  constexpr int kStreams = 60;
  for (int i = 0; i < kStreams; ++i) {
    const uint32_t id = 1 + 2 * i;
    c.request(id, {{":method", "GET"}, {":scheme", "http"}, {":authority", "api"},
                   {":path", "/item/" + std::to_string(i)}}, true);
  }
  for (int i = kStreams - 1; i >= 0; --i) {  // answered in reverse order, bodies interleaved
    c.response(1 + 2 * i, {{":status", "200"}, {"x-item", std::to_string(i)}}, false);
  }
  for (int i = 0; i < kStreams; ++i) c.server += data(1 + 2 * i, std::string(i, 'z'), false);
  for (int i = 0; i < kStreams; ++i) c.server += data(1 + 2 * i, "", true);
  std::vector<Stream> streams = run(c.client, c.server, 5);
  ASSERT_EQ(streams.size(), static_cast<size_t>(kStreams));
  for (int i = 0; i < kStreams; ++i) {
    const Stream* s = by_id(streams, 1 + 2 * i);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(*s->request.header(":path"), "/item/" + std::to_string(i));
    EXPECT_EQ(*s->response.header("x-item"), std::to_string(i));
    EXPECT_EQ(s->response.data_bytes, static_cast<uint64_t>(i));
    EXPECT_TRUE(s->complete());
  }
  EXPECT_EQ(streams.front().id, 1u);  // completion order: the END_STREAM DATA frames
}

TEST(Http2Connection, SmallDynamicTableWithEvictionsFromSettings) {
  Conn c;
  // The client allows a 256-byte table for the server's encoder; the server ACKs and
  // its encoder shrinks (a size update opens its next block).
  c.client += settings({{settings::kHeaderTableSize, 256}});
  c.server += settings_ack();
  c.server_hpack.change_table_size(256);
  std::vector<Fields> responses;
  for (int i = 0; i < 40; ++i) {
    const uint32_t id = 1 + 2 * i;
    c.request(id, {{":method", "GET"}, {":scheme", "https"}, {":authority", "cdn.example.com"},
                   {":path", "/asset/" + std::to_string(i % 7)}, {"x-session", "s" + std::to_string(i % 3)}}, true);
    Fields r = {{":status", i % 5 == 0 ? "404" : "200"},
                {"etag", "\"v" + std::to_string(i % 9) + "-abcdefabcdef\""},
                {"x-cache", i % 2 ? "HIT from edge-" + std::to_string(i % 4) : "MISS"},
                {"x-request-id", "req-" + std::to_string(1000 + i * 37)}};
    c.response(id, r, true);
    responses.push_back(r);
  }
  ASSERT_LT(c.server_hpack.entries(), 61u + 8u);  // (static + dynamic) the table evicted along the way
  ConnectionParser p;
  std::vector<Stream> streams = run(p, c.client, c.server, 3);
  ASSERT_EQ(streams.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    const Stream* s = by_id(streams, 1 + 2 * i);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->response.headers, H(responses[i]));
    EXPECT_EQ(*s->request.header(":path"), "/asset/" + std::to_string(i % 7));
  }
  EXPECT_FALSE(p.stats().hpack_state_unknown);
  EXPECT_EQ(p.stats().errors, 0u);
}

TEST(Http2Connection, InterimResponseReplacedByFinalOne) {
  Conn c;
  c.request(1, {{":method", "POST"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/upload"},
                {"expect", "100-continue"}}, false);
  c.response(1, {{":status", "100"}}, false);
  c.client += data(1, "abc", true);
  c.response(1, {{":status", "200"}, {"content-length", "0"}}, true);
  std::vector<Stream> streams = run(c.client, c.server);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(*streams[0].response.header(":status"), "200");
  EXPECT_TRUE(streams[0].response.trailers.empty());
}

TEST(Http2Connection, GoawayRefusesLaterStreamsAndCloseEndsTheOthers) {
  Conn c;
  for (uint32_t id : {1u, 3u, 5u, 7u}) {
    c.request(id, {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/" + std::to_string(id)}}, true);
  }
  c.response(1, {{":status", "200"}}, true);
  c.response(3, {{":status", "200"}}, false);
  c.server += goaway(3, static_cast<uint32_t>(ErrorCode::kEnhanceYourCalm), "too many requests");
  ConnectionParser p;
  std::vector<Stream> streams = run(p, c.client, c.server, 0, /*close=*/false);
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_EQ(streams[0].id, 1u);
  EXPECT_FALSE(streams[0].goaway_error);
  EXPECT_EQ(streams[1].id, 5u);
  EXPECT_TRUE(streams[1].refused);
  EXPECT_EQ(streams[1].goaway_error, 0xbu);
  EXPECT_EQ(streams[2].id, 7u);
  EXPECT_TRUE(streams[2].complete());
  p.close(5000);
  streams = p.take_streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].id, 3u);
  EXPECT_EQ(streams[0].goaway_error, 0xbu);
  EXPECT_FALSE(streams[0].refused);
  EXPECT_FALSE(streams[0].complete());
  EXPECT_EQ(p.stats().goaways, 1u);
}

TEST(Http2Connection, RstStreamFromServerAndLateFramesIgnored) {
  Conn c;
  c.request(1, kGetRequest, true);
  c.server += rst(1, static_cast<uint32_t>(ErrorCode::kRefusedStream));
  c.server += rst(1, 0) + window_update(1, 100);  // late frames on a finished stream
  ConnectionParser p;
  std::vector<Stream> streams = run(p, c.client, c.server);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].rst_error, 7u);
  EXPECT_TRUE(streams[0].complete());
  EXPECT_EQ(p.stats().resets, 2u);
  EXPECT_EQ(p.stats().streams, 1u);
}

TEST(Http2Connection, CloseEmitsOpenStreamsIncomplete) {
  Conn c;
  c.request(1, kGetRequest, true);
  c.response(1, kOkResponse, false);
  c.server += data(1, "partial", false);
  ConnectionParser p;
  std::vector<Stream> streams = run(p, c.client, c.server, 0, false);
  EXPECT_TRUE(streams.empty());
  EXPECT_EQ(p.open_streams(), 1u);
  p.close(99);
  streams = p.take_streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_FALSE(streams[0].complete());
  EXPECT_EQ(streams[0].response.data_bytes, 7u);
  p.feed_client(data(1, "ignored", true), 100);
  EXPECT_TRUE(p.take_streams().empty());
}

// The conversation of a connection joined mid-way: stream 1 completes before the
// join; streams 3 and 5 follow, referencing dynamic entries created before the join.
struct JoinedConnection {
  Conn c;
  size_t client_join = 0, server_join = 0;
  Fields req3 = {{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"},
                 {":path", "/products/43"}, {"user-agent", kGetRequest[4].second}, {"accept", "*/*"},
                 {"x-fresh", "brand-new-value"}};
  Fields resp3 = {{":status", "200"}, {"content-type", "text/html; charset=utf-8"},
                  {"cache-control", "private, max-age=0"}, {"content-length", "5"}};
  JoinedConnection() {
    c.request(1, kGetRequest, true);
    c.response(1, kOkResponse, false);
    c.server += data(1, std::string(1234, 'h'), true);
    client_join = c.client.size();
    server_join = c.server.size();
    c.request(3, req3, true);
    c.response(3, resp3, false);
    c.server += data(3, "hello", true);
  }
};

TEST(Http2Connection, JoinedMidConnectionDecodesCertainFieldsOnly) {
  JoinedConnection j;
  ConnectionParser p;
  p.start_midstream();
  std::vector<Stream> streams =
      run(p, j.c.client.substr(j.client_join), j.c.server.substr(j.server_join), 1);
  ASSERT_EQ(streams.size(), 1u);
  const Stream& s = streams[0];
  EXPECT_EQ(s.id, 3u);
  expect_subset(s.request.headers, j.req3);
  expect_subset(s.response.headers, j.resp3);
  EXPECT_TRUE(s.request.headers_uncertain);   // :authority, user-agent came from the table
  EXPECT_TRUE(s.response.headers_uncertain);  // content-type, cache-control too
  EXPECT_EQ(*s.request.header(":method"), "GET");
  EXPECT_EQ(*s.request.header(":scheme"), "https");
  EXPECT_EQ(*s.request.header("x-fresh"), "brand-new-value");
  EXPECT_EQ(*s.request.header("accept"), "*/*");
  EXPECT_EQ(s.request.header(":authority"), nullptr);
  EXPECT_EQ(s.request.header("user-agent"), nullptr);
  EXPECT_EQ(*s.response.header(":status"), "200");
  EXPECT_EQ(*s.response.header("content-length"), "5");
  EXPECT_EQ(s.response.header("content-type"), nullptr);
  EXPECT_EQ(s.response.data_bytes, 5u);
  EXPECT_TRUE(s.complete());
  EXPECT_TRUE(p.stats().hpack_state_unknown);
  EXPECT_EQ(p.stats().hpack_uncertain_blocks, 2u);
  EXPECT_FALSE(p.hpack_known_client());
}

TEST(Http2Connection, JoinWithoutBeingToldIsDetected) {
  // No start_midstream(): the client bytes lack the preface and the server's first frame
  // is not SETTINGS, so both tables are treated as unknown.
  JoinedConnection j;
  ConnectionParser p;
  std::vector<Stream> streams = run(p, j.c.client.substr(j.client_join), j.c.server.substr(j.server_join));
  ASSERT_EQ(streams.size(), 1u);
  expect_subset(streams[0].request.headers, j.req3);
  expect_subset(streams[0].response.headers, j.resp3);
  EXPECT_TRUE(streams[0].request.headers_uncertain);
  EXPECT_TRUE(streams[0].response.headers_uncertain);
  EXPECT_TRUE(p.stats().hpack_state_unknown);
}

TEST(Http2Connection, JoinInsideAFrameResynchronises) {
  JoinedConnection j;
  // Start in the middle of stream 1's 1234-byte DATA frame on the server side and in the
  // middle of the stream-1 HEADERS on the client side.
  const size_t server_from = j.server_join - 700;
  const size_t client_from = j.client_join - 10;
  ConnectionParser p;
  p.start_midstream();
  std::vector<Stream> streams = run(p, j.c.client.substr(client_from), j.c.server.substr(server_from), 1);
  const Stream* s3 = by_id(streams, 3);
  ASSERT_NE(s3, nullptr);
  expect_subset(s3->request.headers, j.req3);
  expect_subset(s3->response.headers, j.resp3);
  EXPECT_EQ(*s3->response.header(":status"), "200");
  EXPECT_EQ(s3->response.data_bytes, 5u);
  EXPECT_TRUE(s3->complete());
  EXPECT_GT(p.stats().skipped_bytes, 0u);
}

TEST(Http2Connection, CorruptFrameLengthThenRecovery) {
  Conn c;
  c.request(1, kGetRequest, true);
  c.response(1, kOkResponse, false);
  c.server += data(1, std::string(1234, 'q'), true);
  // A frame header with an impossible length, plus some garbage.
  c.server += std::string("\xff\xff\xff\x01\x04\x00\x00\x00\x03", 9) + "garbage!";
  c.request(3, {{":method", "DELETE"}, {":scheme", "https"}, {":authority", "www.example.com"}, {":path", "/cart/9"}}, true);
  const Fields resp3 = {{":status", "204"}, {"x-deleted", "cart-9"}, {"date", "Tue, 05 Mar 2024 10:15:03 GMT"}};
  c.response(3, resp3, true);
  c.request(5, {{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"}, {":path", "/cart"}}, true);
  c.response(5, {{":status", "200"}, {"x-deleted", "cart-9"}}, false);
  c.server += data(5, "[]", true);
  for (size_t chunk : {size_t{0}, size_t{1}}) {
    ConnectionParser p;
    std::vector<Stream> streams = run(p, c.client, c.server, chunk);
    ASSERT_EQ(streams.size(), 3u) << chunk;
    EXPECT_EQ(streams[0].response.headers, H(kOkResponse));
    const Stream* s3 = by_id(streams, 3);
    ASSERT_NE(s3, nullptr);
    EXPECT_TRUE(s3->complete());
    expect_subset(s3->response.headers, resp3);
    EXPECT_EQ(*s3->response.header(":status"), "204");  // static table entry
    EXPECT_EQ(*s3->response.header("x-deleted"), "cart-9");  // literal
    EXPECT_EQ(*s3->request.header(":method"), "DELETE");  // the client side stayed in sync
    const Stream* s5 = by_id(streams, 5);
    ASSERT_NE(s5, nullptr);
    EXPECT_EQ(s5->response.header("x-deleted"), nullptr);  // dynamic by now: omitted
    EXPECT_TRUE(s5->response.headers_uncertain);
    EXPECT_EQ(s5->response.data_bytes, 2u);
    EXPECT_EQ(p.stats().errors, 1u);
    EXPECT_EQ(p.stats().skipped_bytes, 17u);
    EXPECT_TRUE(p.hpack_known_client());
    EXPECT_FALSE(p.hpack_known_server());
  }
}

TEST(Http2Connection, GapInsideDataIsSubtracted) {
  Conn c;
  c.request(1, kGetRequest, true);
  c.response(1, kOkResponse, false);
  const std::string body = data(1, std::string(5000, 'b'), true);
  c.request(3, {{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"}, {":path", "/next"}}, true);
  ConnectionParser p;
  p.feed_client(c.client, 1);
  p.feed_server(c.server, 2);
  p.feed_server(body.substr(0, 9 + 100), 3);
  p.gap_server(4000, 4);  // the kernel copied only part of the payload
  p.feed_server(body.substr(9 + 4100), 5);
  c.server.clear();
  c.response(3, {{":status", "200"}, {"content-type", "text/html; charset=utf-8"}}, true);
  p.feed_server(c.server, 6);
  std::vector<Stream> streams = p.take_streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].response.data_bytes, 5000u);
  EXPECT_TRUE(streams[0].response.data_gap);
  EXPECT_EQ(streams[0].response.last_ts, 5u);
  EXPECT_TRUE(streams[0].complete());
  // Still in sync: the next block's dynamic references decode in full.
  EXPECT_EQ(*streams[1].response.header("content-type"), "text/html; charset=utf-8");
  EXPECT_FALSE(streams[1].response.headers_uncertain);
  EXPECT_FALSE(p.stats().hpack_state_unknown);
}

TEST(Http2Connection, GapOutsideDataLosesTheTable) {
  Conn c;
  c.request(1, kGetRequest, true);
  c.response(1, kOkResponse, true);
  const size_t cut = c.server.size();
  c.request(3, kGetRequest, true);
  c.response(3, kOkResponse, true);  // all dynamic references now
  const size_t lost = 5;              // part of stream 3's HEADERS frame header
  c.request(5, kGetRequest, true);
  c.response(5, {{":status", "500"}, {"content-type", "text/html; charset=utf-8"}}, true);
  ConnectionParser p;
  p.feed_client(c.client, 1);
  p.feed_server(std::string_view(c.server).substr(0, cut), 2);
  p.gap_server(lost, 3);
  p.feed_server(std::string_view(c.server).substr(cut + lost), 4);
  p.close(5);
  std::vector<Stream> streams = p.take_streams();
  ASSERT_EQ(streams.size(), 3u);
  const Stream* s5 = by_id(streams, 5);
  ASSERT_NE(s5, nullptr);
  EXPECT_EQ(*s5->response.header(":status"), "500");
  EXPECT_EQ(s5->response.header("content-type"), nullptr);
  EXPECT_TRUE(s5->response.headers_uncertain);
  const Stream* s3 = by_id(streams, 3);
  ASSERT_NE(s3, nullptr);
  EXPECT_TRUE(s3->response.headers.empty());
  EXPECT_FALSE(s3->complete());  // its END_STREAM was in the lost HEADERS
  EXPECT_TRUE(p.stats().hpack_state_unknown);
  EXPECT_EQ(p.stats().gaps, 1u);
}

TEST(Http2Connection, OpenStreamLimitEvictsOldest) {
  Conn c;
  for (uint32_t id = 1; id <= 9; id += 2) {
    c.request(id, {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}}, false);
  }
  Limits limits;
  limits.max_open_streams = 3;
  ConnectionParser p(limits);
  std::vector<Stream> streams = run(p, c.client, c.server, 0, false);
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].id, 1u);
  EXPECT_TRUE(streams[0].evicted);
  EXPECT_EQ(streams[1].id, 3u);
  EXPECT_EQ(p.stats().evicted_streams, 2u);
  EXPECT_EQ(p.open_streams(), 3u);
}

TEST(Http2Connection, OversizedHeaderBlockIsDroppedAndTableLost) {
  Conn c;
  c.request(1, {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"},
                {"cookie", std::string(3000, 'c')}}, true);
  c.response(1, {{":status", "200"}}, true);
  Limits limits;
  limits.max_header_block = 1024;
  ConnectionParser p(limits);
  std::vector<Stream> streams = run(p, c.client, c.server);
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_TRUE(streams[0].request.headers.empty());
  EXPECT_TRUE(streams[0].request.headers_truncated);
  EXPECT_TRUE(streams[0].complete());
  EXPECT_EQ(p.stats().errors, 1u);
  EXPECT_FALSE(p.hpack_known_client());
}

// --- gRPC over the connection parser ---

Fields grpc_request(std::string_view path) {
  return {{":method", "POST"}, {":scheme", "http"}, {":path", std::string(path)}, {":authority", "orders.svc:50051"},
          {"content-type", "application/grpc"}, {"user-agent", "grpc-go/1.62.1"}, {"te", "trailers"},
          {"grpc-timeout", "5S"}};
}

TEST(Http2Grpc, UnaryCallWithTrailers) {
  Conn c;
  c.request(1, grpc_request("/shop.v1.Orders/GetOrder"), false);
  c.client += data(1, grpc_message("\x0a\x05o-771"), true);
  c.response(1, {{":status", "200"}, {"content-type", "application/grpc"}}, false);
  const std::string reply = grpc_message(std::string(300, 'r'));
  c.server += data(1, reply.substr(0, 100), false) + data(1, reply.substr(100), false);
  c.response(1, {{"grpc-status", "0"}}, true);
  std::vector<Stream> streams = run(c.client, c.server, 1);
  ASSERT_EQ(streams.size(), 1u);
  const Stream& s = streams[0];
  auto method = grpc_wire::parse_path(*s.request.header(":path"));
  ASSERT_TRUE(method);
  EXPECT_EQ(method->service, "shop.v1.Orders");
  EXPECT_EQ(method->method, "GetOrder");
  EXPECT_EQ(s.request.messages, 1u);
  EXPECT_EQ(s.request.message_bytes, 7u);
  EXPECT_EQ(s.request.data_bytes, 12u);
  EXPECT_EQ(s.response.messages, 1u);
  EXPECT_EQ(s.response.message_bytes, 300u);
  EXPECT_EQ(s.response.data_bytes, 305u);
  EXPECT_FALSE(s.response.messages_uncertain);
  EXPECT_EQ(s.response.trailers, (std::vector<Header>{{"grpc-status", "0"}}));
  EXPECT_EQ(*s.response.trailer("grpc-status"), "0");
}

TEST(Http2Grpc, TrailersOnlyResponse) {
  Conn c;
  c.request(1, grpc_request("/shop.v1.Orders/GetOrder"), false);
  c.client += data(1, grpc_message("\x0a\x03o-1"), true);
  const std::string encoded = grpc_wire::encode_message("order o-1 not found: café");
  EXPECT_EQ(encoded, "order o-1 not found: caf%C3%A9");
  c.response(1, {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "5"},
                 {"grpc-message", encoded}}, true);
  std::vector<Stream> streams = run(c.client, c.server);
  ASSERT_EQ(streams.size(), 1u);
  const StreamSide& r = streams[0].response;
  EXPECT_TRUE(r.trailers.empty());
  EXPECT_TRUE(r.end_stream);
  const auto status = grpc_wire::parse_status(*r.header("grpc-status"));
  ASSERT_TRUE(status);
  EXPECT_STREQ(grpc_wire::status_name(*status), "NOT_FOUND");
  EXPECT_EQ(grpc_wire::decode_message(*r.header("grpc-message")), "order o-1 not found: café");
  EXPECT_EQ(r.messages, 0u);
  EXPECT_EQ(r.data_bytes, 0u);
}

TEST(Http2Grpc, ErrorStatusInTrailersAfterMessages) {
  Conn c;
  c.request(1, grpc_request("/shop.v1.Orders/Update"), false);
  c.client += data(1, grpc_message("abc"), true);
  c.response(1, {{":status", "200"}, {"content-type", "application/grpc+proto"}}, false);
  c.response(1, {{"grpc-status", "5"}, {"grpc-message", "Not%20Found%3A%20order%20%2F7"}}, true);
  std::vector<Stream> streams = run(c.client, c.server);
  ASSERT_EQ(streams.size(), 1u);
  const StreamSide& r = streams[0].response;
  EXPECT_EQ(*r.trailer("grpc-status"), "5");
  EXPECT_EQ(grpc_wire::decode_message(*r.trailer("grpc-message")), "Not Found: order /7");
  EXPECT_EQ(r.messages, 0u);
  EXPECT_FALSE(r.messages_uncertain);
}

TEST(Http2Grpc, ServerStreamingMessageCounts) {
  Conn c;
  c.request(1, grpc_request("/market.v1.Quotes/Subscribe"), false);
  c.client += data(1, grpc_message("EURUSD"), true);
  c.response(1, {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-encoding", "gzip"}}, false);
  std::string stream_bytes;
  uint64_t payload_total = 0;
  for (int i = 0; i < 25; ++i) {
    const std::string payload(10 + i * 13, static_cast<char>('a' + i % 26));
    payload_total += payload.size();
    stream_bytes += grpc_message(payload, i % 4 == 0);
  }
  // Cut the messages into DATA frames at awkward places (inside prefixes too).
  for (size_t at = 0; at < stream_bytes.size(); at += 37) {
    c.server += data(1, stream_bytes.substr(at, 37), false);
  }
  c.response(1, {{"grpc-status", "0"}}, true);
  std::vector<Stream> a = run(c.client, c.server, 0);
  std::vector<Stream> b = run(c.client, c.server, 1);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0].response.messages, 25u);
  EXPECT_EQ(a[0].response.message_bytes, payload_total);
  EXPECT_EQ(a[0].response.data_bytes, stream_bytes.size());
  EXPECT_EQ(a[0].request.messages, 1u);
}

TEST(Http2Grpc, GapInsideMessagePayloadKeepsCountExact) {
  Conn c;
  c.request(1, grpc_request("/blob.v1.Store/Get"), true);
  c.response(1, {{":status", "200"}, {"content-type", "application/grpc"}}, false);
  const std::string body = grpc_message(std::string(8000, 'x')) + grpc_message("tail");
  const std::string frame1 = data(1, body.substr(0, 8005), false);
  const std::string frame2 = data(1, body.substr(8005), false);
  c.response(1, {{"grpc-status", "0"}}, true);
  Limits limits;
  limits.max_frame_size = 16384;
  ConnectionParser p(limits);
  p.set_data_taps(grpc_taps());
  p.feed_client(c.client, 1);
  const size_t headers_end = c.server.size() - 0;
  std::string trailers_frame;
  {
    // The trailers are the last frame of c.server: split them off.
    FrameHeader h;
    size_t at = 0, last = 0;
    while (at < c.server.size()) {
      decode_frame_header(std::string_view(c.server).substr(at), h);
      last = at;
      at += kFrameHeaderSize + h.length;
    }
    trailers_frame = c.server.substr(last);
    p.feed_server(std::string_view(c.server).substr(0, last), 2);
  }
  (void)headers_end;
  p.feed_server(frame1.substr(0, 9 + 500), 3);
  p.gap_server(7000, 4);
  p.feed_server(frame1.substr(9 + 7500), 5);
  p.feed_server(frame2 + trailers_frame, 6);
  std::vector<Stream> streams = p.take_streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].response.messages, 2u);
  EXPECT_EQ(streams[0].response.message_bytes, 8004u);
  EXPECT_FALSE(streams[0].response.messages_uncertain);
  EXPECT_TRUE(streams[0].response.data_gap);
  EXPECT_EQ(streams[0].response.data_bytes, body.size());
}

}  // namespace
}  // namespace spanwire::http2
