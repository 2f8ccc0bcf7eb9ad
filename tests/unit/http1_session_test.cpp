// Http1Session: plain HTTP/1 exchanges, the `Upgrade: h2c` hand-over to HTTP/2
// (one span-worthy stream 1 carrying the upgrade request), and other protocol
// switches whose bytes are counted, not parsed.
#include "conn/http1_session.h"

#include <gtest/gtest.h>

#include "conn/connection_tracker.h"
#include "metrics/metrics.h"
#include "../support/hpack_deflater.h"
#include "../support/http2_frames.h"

namespace spanwire {
namespace {

using http2::FrameType;
using testing::frame;
using testing::HpackDeflater;

struct Collected : ConnectionObserver {
  void on_exchange(const ConnectionInfo&, http1::Exchange&& ex) override { exchanges.push_back(std::move(ex)); }
  void on_http2_stream(const ConnectionInfo&, http2::Stream&& s) override { streams.push_back(std::move(s)); }
  std::vector<http1::Exchange> exchanges;
  std::vector<http2::Stream> streams;
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
  void publish() { session.publish(conn, seen, metrics); }
  Http1Session session{http1::Limits{}};
  ConnectionInfo conn;
  Collected seen;
  Metrics metrics;
};

TEST_F(Http1SessionTest, PlainExchangeStaysHttp1) {
  session.feed(true, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  session.feed(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
  publish();
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_TRUE(seen.streams.empty());
  EXPECT_EQ(metrics.http1_upgrades_h2c.load(), 0u);
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
  const http2::Stream& s = seen.streams[0];
  EXPECT_EQ(s.id, 1u);
  EXPECT_TRUE(s.complete());
  ASSERT_NE(s.request.header(":method"), nullptr);
  EXPECT_EQ(*s.request.header(":method"), "GET");
  EXPECT_EQ(*s.request.header(":path"), "/index.html");
  EXPECT_EQ(*s.request.header(":authority"), "example.test:8080");
  EXPECT_EQ(*s.request.header(":scheme"), "http");
  EXPECT_EQ(*s.request.header("user-agent"), "nghttp2/1.52");
  EXPECT_EQ(s.request.header("upgrade"), nullptr);
  EXPECT_EQ(s.request.header("http2-settings"), nullptr);
  EXPECT_EQ(s.request.first_ts, 10u);
  EXPECT_EQ(*s.response.header(":status"), "200");
  EXPECT_EQ(s.response.data_bytes, 42u);
  EXPECT_FALSE(s.request.headers_uncertain);
  EXPECT_FALSE(s.response.headers_uncertain);
  EXPECT_EQ(metrics.http1_upgrades_h2c.load(), 1u);
  EXPECT_EQ(metrics.http2_parse_errors.load(), 0u);
  EXPECT_EQ(metrics.upgraded_bytes_unparsed.load(), 0u);
}

TEST_F(Http1SessionTest, H2cUpgradeSurvivesEveryByteSplit) {
  HpackDeflater server_hpack;
  const std::string server = std::string(kSwitching) + server_after_upgrade(server_hpack);
  const std::string client = std::string(kUpgradeRequest) + client_after_upgrade();
  for (size_t cut = 1; cut < server.size(); cut += 7) {
    Http1Session s{http1::Limits{}};
    Collected c;
    Metrics m;
    // The client's preface may be read before the 101 is (it is held until the answer).
    s.feed(true, client, 1);
    s.feed(false, std::string_view(server).substr(0, cut), 2);
    s.feed(false, std::string_view(server).substr(cut), 3);
    s.close(4);
    s.publish(conn, c, m);
    ASSERT_EQ(c.streams.size(), 1u) << "cut " << cut;
    EXPECT_EQ(*c.streams[0].request.header(":path"), "/index.html");
    EXPECT_EQ(*c.streams[0].response.header(":status"), "200");
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
  EXPECT_EQ(seen.streams[1].id, 3u);
  EXPECT_EQ(*seen.streams[1].request.header(":path"), "/style.css");
  EXPECT_EQ(*seen.streams[1].response.header(":status"), "404");
}

TEST_F(Http1SessionTest, DeclinedUpgradeStaysHttp1) {
  session.feed(true, kUpgradeRequest, 1);
  session.feed(true, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n", 2);  // held until the answer
  session.feed(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 3);
  publish();
  ASSERT_EQ(seen.exchanges.size(), 2u);
  EXPECT_EQ(seen.exchanges[1].request.target, "/next");
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
  EXPECT_EQ(seen.exchanges[0].response->status_code, 101);
  EXPECT_TRUE(seen.streams.empty());
  EXPECT_EQ(metrics.upgraded_bytes_unparsed.load(), server_frame.size() + client_frame.size());
  EXPECT_EQ(metrics.http1_upgrades_h2c.load(), 0u);
}

}  // namespace
}  // namespace spanwire
