// The HTTP/1 session: plain HTTP/1 exchanges, the `Upgrade: h2c` hand-over to HTTP/2
// (one span-worthy stream 1 carrying the upgrade request), and other protocol
// switches whose bytes are counted, not parsed.
#include "http1/session.h"

#include <gtest/gtest.h>

#include "http1/counters.h"
#include "http2/counters.h"
#include "protocol_ids.h"
#include "support/hpack_deflater.h"
#include "support/http2_frames.h"

namespace spanwire {
namespace {

using http2::FrameType;
using testing::frame;
using testing::HpackDeflater;

// Records by the HTTP version that carried them.
struct Collected : RecordSink {
  void record(ExchangeRecord&& r) override {
    (string_attribute(r.attributes, "network.protocol.version") == "2" ? streams : exchanges).push_back(std::move(r));
  }
  std::vector<ExchangeRecord> exchanges;
  std::vector<ExchangeRecord> streams;
};

std::string text(const ExchangeRecord& r, std::string_view key) { return string_attribute(r.attributes, key); }
int64_t number(const ExchangeRecord& r, std::string_view key) { return int_attribute(r.attributes, key).value_or(-1); }

// Counters of one protocol, as the session counted them.
struct Counts {
  CounterBoard board;
  uint64_t http1(size_t counter) const { return board.of(protocol_id::HTTP1).value(counter); }
  uint64_t http2(size_t counter) const { return board.of(protocol_id::HTTP2).value(counter); }
};

constexpr std::string_view kUpgradeRequest =
    "GET /index.html HTTP/1.1\r\nHost: example.test:8080\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nUser-Agent: nghttp2/1.52\r\n\r\n";
constexpr std::string_view kSwitching =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

std::string client_after_upgrade() {
  return std::string(http2::kClientPreface) + frame(FrameType::kSettings, 0, 0, "") +
         frame(FrameType::kSettings, 0x1, 0, "");
}

std::string server_after_upgrade(HpackDeflater& deflater) {
  std::string out = frame(FrameType::kSettings, 0, 0, "");
  out += frame(FrameType::kSettings, 0x1, 0, "");
  out += frame(FrameType::kHeaders, http2::flags::kEndHeaders, 1,
               deflater.encode({{":status", "200"}, {"content-type", "text/html"}}));
  out += frame(FrameType::kData, http2::flags::kEndStream, 1, std::string(42, 'x'));
  return out;
}

class Http1SessionTest : public ::testing::Test {
 protected:
  void publish() { session.publish(conn, seen); }
  ProtocolSettings settings;
  Counts metrics;
  http1::Session session{SessionContext{settings, metrics.board}};
  ConnectionFacts conn;
  Collected seen;
};

TEST_F(Http1SessionTest, PlainExchangeStaysHttp1) {
  session.feed(true, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  session.feed(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
  publish();
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_TRUE(seen.streams.empty());
  EXPECT_EQ(metrics.http1(http1::counter::upgrades_h2c), 0u);
}

TEST_F(Http1SessionTest, H2cUpgradeBecomesStreamOne) {
  HpackDeflater server_hpack;
  session.feed(true, kUpgradeRequest, 10);
  // The 101 and the server's first HTTP/2 frames often share one write.
  session.feed(false, std::string(kSwitching) + server_after_upgrade(server_hpack), 20);
  session.feed(true, client_after_upgrade(), 30);
  session.close(40);
  publish();

  EXPECT_TRUE(seen.exchanges.empty()) << "the upgrade exchange must not become an HTTP/1 span";
  ASSERT_EQ(seen.streams.size(), 1u);
  const ExchangeRecord& s = seen.streams[0];
  EXPECT_EQ(number(s, "spanwire.http2.stream_id"), 1);
  EXPECT_TRUE(s.answered);
  EXPECT_EQ(text(s, "http.request.method"), "GET");
  EXPECT_EQ(text(s, "url.path"), "/index.html");
  ASSERT_TRUE(s.server);
  EXPECT_EQ(s.server->host, "example.test");
  EXPECT_EQ(s.server->port, 8080);
  EXPECT_EQ(text(s, "url.scheme"), "http");
  EXPECT_EQ(text(s, "user_agent.original"), "nghttp2/1.52");
  EXPECT_EQ(s.start_ts, 10u);
  EXPECT_EQ(number(s, "http.response.status_code"), 200);
  EXPECT_EQ(number(s, "http.response.body.size"), 42);
  EXPECT_EQ(find_attribute(s.attributes, "spanwire.http2.headers_incomplete"), nullptr);
  EXPECT_EQ(metrics.http1(http1::counter::upgrades_h2c), 1u);
  EXPECT_EQ(metrics.http2(http2::counter::parse_errors), 0u);
  EXPECT_EQ(metrics.http1(http1::counter::upgraded_bytes_unparsed), 0u);
}

TEST_F(Http1SessionTest, H2cUpgradeSurvivesEveryByteSplit) {
  HpackDeflater server_hpack;
  const std::string server = std::string(kSwitching) + server_after_upgrade(server_hpack);
  const std::string client = std::string(kUpgradeRequest) + client_after_upgrade();
  for (size_t cut = 1; cut < server.size(); cut += 7) {
    Counts m;
    http1::Session s{SessionContext{settings, m.board}};
    Collected c;
    // The client's preface may be read before the 101 is (it is held until the answer).
    s.feed(true, client, 1);
    s.feed(false, std::string_view(server).substr(0, cut), 2);
    s.feed(false, std::string_view(server).substr(cut), 3);
    s.close(4);
    s.publish(conn, c);
    ASSERT_EQ(c.streams.size(), 1u) << "cut " << cut;
    EXPECT_EQ(text(c.streams[0], "url.path"), "/index.html");
    EXPECT_EQ(number(c.streams[0], "http.response.status_code"), 200);
    EXPECT_TRUE(c.exchanges.empty());
  }
}

TEST_F(Http1SessionTest, MoreStreamsAfterTheUpgrade) {
  HpackDeflater client_hpack, server_hpack;
  session.feed(true, kUpgradeRequest, 1);
  session.feed(false, std::string(kSwitching) + server_after_upgrade(server_hpack), 2);
  std::string client = client_after_upgrade();
  client += frame(FrameType::kHeaders, http2::flags::kEndHeaders | http2::flags::kEndStream, 3,
                  client_hpack.encode({{":method", "GET"}, {":scheme", "http"}, {":path", "/style.css"},
                                       {":authority", "example.test:8080"}}));
  session.feed(true, client, 3);
  session.feed(false,
               frame(FrameType::kHeaders, http2::flags::kEndHeaders | http2::flags::kEndStream, 3,
                     server_hpack.encode({{":status", "404"}})),
               4);
  publish();
  ASSERT_EQ(seen.streams.size(), 2u);
  EXPECT_EQ(number(seen.streams[1], "spanwire.http2.stream_id"), 3);
  EXPECT_EQ(text(seen.streams[1], "url.path"), "/style.css");
  EXPECT_EQ(number(seen.streams[1], "http.response.status_code"), 404);
}

TEST_F(Http1SessionTest, DeclinedUpgradeStaysHttp1) {
  session.feed(true, kUpgradeRequest, 1);
  session.feed(true, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n", 2);  // held until the answer
  session.feed(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 3);
  publish();
  ASSERT_EQ(seen.exchanges.size(), 2u);
  EXPECT_EQ(text(seen.exchanges[1], "url.path"), "/next");
  EXPECT_TRUE(seen.streams.empty());
}

TEST_F(Http1SessionTest, WebSocketBytesAreCountedNotParsed) {
  session.feed(true, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 1);
  const std::string server_frame = "\x81\x02hi";     // unmasked text frame
  const std::string client_frame = "\x81\x85" "abcdhello";  // masked text frame
  session.feed(false, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + server_frame, 2);
  session.feed(true, client_frame, 3);
  publish();
  ASSERT_EQ(seen.exchanges.size(), 1u);  // the 101 exchange itself is an HTTP/1 span
  EXPECT_EQ(number(seen.exchanges[0], "http.response.status_code"), 101);
  EXPECT_TRUE(seen.streams.empty());
  EXPECT_EQ(metrics.http1(http1::counter::upgraded_bytes_unparsed), server_frame.size() + client_frame.size());
  EXPECT_EQ(metrics.http1(http1::counter::upgrades_h2c), 0u);
}

}  // namespace
}  // namespace spanwire
