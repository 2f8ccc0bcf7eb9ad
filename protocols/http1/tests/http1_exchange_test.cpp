// Unit tests for pairing HTTP/1.x requests and responses of one connection.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "http1/exchange_matcher.h"

namespace spanwire::http1 {
namespace {

using namespace std::string_literals;

std::string get(std::string_view target) {
  return "GET " + std::string(target) +
         " HTTP/1.1\r\n"
         "Host: api.example.com\r\n"
         "User-Agent: curl/8.5.0\r\n"
         "Accept: */*\r\n"
         "\r\n";
}

std::string head(std::string_view target) {
  return "HEAD " + std::string(target) + " HTTP/1.1\r\nHost: cdn.example.com\r\n\r\n";
}

std::string ok(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

constexpr std::string_view kNotFound =
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nnot found";

// What a server answers to HEAD: the entity's length, and no body.
constexpr std::string_view kHeadAnswer =
    "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 73400320\r\n\r\n";

constexpr std::string_view kWebSocketRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

constexpr std::string_view kSwitchingProtocols =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

// Feeds a matcher the way the connection tracker does: each chunk placed against
// the other direction first, with positions counted as the kernel counts them
// (lost bytes included). `lose_*` are bytes that moved but never arrived.
struct Wire {
  explicit Wire(ExchangeMatcher& m, uint64_t request_start = 0, uint64_t response_start = 0)
      : m(m), req(request_start), resp(response_start), req_start(request_start), resp_start(response_start) {}
  void request(std::string_view bytes, uint64_t ts) {
    m.place_request_chunk({req, resp, req_start});
    m.feed_request(bytes, ts);
    req += bytes.size();
  }
  void response(std::string_view bytes, uint64_t ts) {
    m.place_response_chunk({resp, req, resp_start});
    m.feed_response(bytes, ts);
    resp += bytes.size();
  }
  void lose_request(uint64_t n, uint64_t ts) {
    m.gap_request(n, ts);
    req += n;
  }
  void lose_response(uint64_t n, uint64_t ts) {
    m.gap_response(n, ts);
    resp += n;
  }
  ExchangeMatcher& m;
  uint64_t req, resp;
  const uint64_t req_start, resp_start;
};

// "target -> status" per exchange ("-" when unanswered), to compare pairings at a glance.
std::vector<std::string> pairs(const std::vector<Exchange>& exchanges) {
  std::vector<std::string> out;
  for (const Exchange& x : exchanges) {
    out.push_back(x.request.method + " " + x.request.target + " -> " +
                  (x.response ? std::to_string(x.response->status_code) : "-"));
  }
  return out;
}

using Pairs = std::vector<std::string>;

TEST(Http1Exchange, PairsASimpleGet) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/users/42"), 100);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  matcher.feed_response(ok(R"({"id":42})"), 150);
  std::vector<Exchange> out = matcher.take_exchanges();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].request.target, "/users/42");
  EXPECT_EQ(out[0].request.first_ts, 100u);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status_code, 200);
  EXPECT_EQ(out[0].response->body_bytes, 9u);
  EXPECT_EQ(out[0].response->first_ts, 150u);
  EXPECT_TRUE(out[0].interim.empty());
  EXPECT_EQ(matcher.stats().exchanges, 1u);
  EXPECT_EQ(matcher.stats().unanswered, 0u);
  EXPECT_EQ(matcher.request_stats().messages, 1u);
  EXPECT_EQ(matcher.response_stats().messages, 1u);
}

TEST(Http1Exchange, KeepAliveConnectionInOrder) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/1"), 100);
  matcher.feed_response(ok("one"), 110);
  matcher.feed_request(get("/2"), 200);
  matcher.feed_response(kNotFound, 210);
  matcher.feed_request("POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd", 300);
  matcher.feed_response("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 310);
  EXPECT_EQ(pairs(matcher.take_exchanges()),
            (Pairs{"GET /1 -> 200", "GET /2 -> 404", "POST /3 -> 201"}));
  EXPECT_EQ(matcher.stats().exchanges, 3u);
}

TEST(Http1Exchange, PipelinedRequestsAreAnsweredInOrder) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/a") + get("/b") + get("/c"), 100);
  matcher.feed_response(ok("A") + std::string(kNotFound) + ok("CCC"), 200);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /a -> 200", "GET /b -> 404", "GET /c -> 200"}));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].response->body_bytes, 3u);
}

TEST(Http1Exchange, PipelinedHeadThenGet) {
  ExchangeMatcher matcher;
  matcher.feed_request(head("/video.mp4") + get("/index.html"), 100);
  matcher.feed_response(std::string(kHeadAnswer) + ok("<html></html>"), 200);
  std::vector<Exchange> out = matcher.take_exchanges();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(pairs(out), (Pairs{"HEAD /video.mp4 -> 200", "GET /index.html -> 200"}));
  EXPECT_EQ(out[0].response->body_bytes, 0u);
  EXPECT_EQ(*out[0].response->header("content-length"), "73400320");
  EXPECT_EQ(out[1].response->body_bytes, 13u);
  EXPECT_EQ(matcher.response_stats().errors, 0u);
}

TEST(Http1Exchange, HundredContinueIsInterimAndTheRequestGetsTheFinalResponse) {
  ExchangeMatcher matcher;
  matcher.feed_request("PUT /upload/file.bin HTTP/1.1\r\nHost: files\r\nContent-Length: 10\r\n"
                       "Expect: 100-continue\r\n\r\n", 100);
  matcher.feed_response("HTTP/1.1 100 Continue\r\n\r\n", 110);
  matcher.feed_request("0123456789", 120);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  matcher.feed_response("HTTP/1.1 201 Created\r\nLocation: /upload/file.bin\r\n"
                        "Content-Length: 0\r\n\r\n", 130);
  std::vector<Exchange> out = matcher.take_exchanges();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].request.body_bytes, 10u);
  EXPECT_EQ(out[0].request.last_ts, 120u);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status_code, 201);
  ASSERT_EQ(out[0].interim.size(), 1u);
  EXPECT_EQ(out[0].interim[0].status_code, 100);
  EXPECT_EQ(out[0].interim[0].first_ts, 110u);
  EXPECT_EQ(matcher.stats().informational, 1u);
  EXPECT_EQ(matcher.stats().exchanges, 1u);
}

TEST(Http1Exchange, EarlyResponseBeforeTheRequestBodyEnds) {
  ExchangeMatcher matcher;
  matcher.feed_request("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n", 100);
  matcher.feed_request(std::string(4096, 'x'), 101);
  matcher.feed_response("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n\r\n", 102);
  EXPECT_TRUE(matcher.take_exchanges().empty());  // the request is still running
  matcher.close(103);
  std::vector<Exchange> out = matcher.take_exchanges();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].request.complete);
  EXPECT_EQ(out[0].request.body_bytes, 4096u);
  ASSERT_TRUE(out[0].response);
  EXPECT_EQ(out[0].response->status_code, 413);
  EXPECT_EQ(matcher.stats().unanswered, 0u);
}

TEST(Http1Exchange, CloseDelimitedResponseCompletesOnClose) {
  ExchangeMatcher matcher;
  matcher.feed_request("GET /old HTTP/1.0\r\n\r\n", 1);
  matcher.feed_response("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", 2);
  matcher.feed_response("</html>", 3);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  matcher.close(4);
  std::vector<Exchange> out = matcher.take_exchanges();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].response);
  EXPECT_TRUE(out[0].response->complete);
  EXPECT_EQ(out[0].response->body_bytes, 13u);
  EXPECT_EQ(out[0].response->last_ts, 3u);
}

TEST(Http1Exchange, PendingRequestsBecomeUnansweredOnClose) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/a") + get("/b"), 100);
  matcher.feed_response(ok("A"), 200);
  EXPECT_EQ(pairs(matcher.take_exchanges()), (Pairs{"GET /a -> 200"}));
  matcher.close(300);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /b -> -"}));
  EXPECT_TRUE(out[0].request.complete);
  EXPECT_EQ(matcher.stats().exchanges, 2u);
  EXPECT_EQ(matcher.stats().unanswered, 1u);
  matcher.feed_request(get("/late"), 400);  // the connection is gone
  matcher.close(500);
  EXPECT_TRUE(matcher.take_exchanges().empty());
}

TEST(Http1Exchange, ResponseOlderThanEveryPendingRequestIsAnOrphan) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/new"), 100);
  matcher.feed_response(ok("stale"), 50);  // answers a request we never saw
  EXPECT_TRUE(matcher.take_exchanges().empty());
  EXPECT_EQ(matcher.stats().orphan_responses, 1u);
  matcher.feed_response(kNotFound, 150);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /new -> 404"}));
  EXPECT_EQ(matcher.stats().exchanges, 1u);
}

TEST(Http1Exchange, ResponseFedBeforeItsRequestStillPairs) {
  // The two directions are captured independently; the response may be delivered first.
  ExchangeMatcher matcher;
  matcher.feed_response(ok("early"), 200);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  matcher.feed_request(get("/x"), 150);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /x -> 200"}));
  EXPECT_EQ(out[0].response->body_bytes, 5u);
  EXPECT_EQ(matcher.stats().orphan_responses, 0u);
  // The response parser's method queue must not keep /x's method: the HEAD answer
  // below would otherwise be framed as a GET answer.
  matcher.feed_request(head("/h") + get("/y"), 300);
  matcher.feed_response(std::string(kHeadAnswer) + ok("y"), 400);
  EXPECT_EQ(pairs(matcher.take_exchanges()), (Pairs{"HEAD /h -> 200", "GET /y -> 200"}));
  EXPECT_EQ(matcher.response_stats().errors, 0u);
}

TEST(Http1Exchange, WaitingResponseOlderThanTheNextRequestIsAnOrphan) {
  ExchangeMatcher matcher;
  matcher.feed_response(ok("stale"), 100);
  matcher.feed_request(get("/x"), 200);
  EXPECT_EQ(matcher.stats().orphan_responses, 1u);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  matcher.close(300);
  EXPECT_EQ(pairs(matcher.take_exchanges()), (Pairs{"GET /x -> -"}));
}

TEST(Http1Exchange, AfterAResponseGapTheNewestRequestBeforeTheResponseIsAnswered) {
  ExchangeMatcher matcher;
  Wire wire(matcher);
  wire.request(get("/a"), 100);
  wire.lose_response(700, 150);  // the answer to /a was lost
  wire.request(get("/b"), 300);
  wire.response(kNotFound, 400);
  // /a's answer is in the loss: no span for it, and no false "no response".
  EXPECT_EQ(pairs(matcher.take_exchanges()), (Pairs{"GET /b -> 404"}));
  EXPECT_EQ(matcher.stats().unanswered, 0u);
  EXPECT_EQ(matcher.stats().requests_unpaired_after_loss, 1u);
  EXPECT_EQ(matcher.response_stats().resyncs, 1u);
  // Pairing is certain again: the next exchange pairs in order.
  wire.request(get("/c"), 500);
  wire.response(ok("c"), 600);
  EXPECT_EQ(pairs(matcher.take_exchanges()), (Pairs{"GET /c -> 200"}));
}

// Joined mid-way, the response stream is first seen past where the request's
// answer began (the events before were lost): the request may not be called
// unanswered.
TEST(Http1Exchange, ResponseStreamFirstSeenPastTheAnswerIsALoss) {
  ExchangeMatcher matcher;
  matcher.start_midstream();
  matcher.place_request_chunk({400, 780, 400});  // sent when 780 response bytes had moved
  matcher.feed_request(get("/a"), 100);
  matcher.place_response_chunk({5000, 2000, 5000});  // first response bytes seen: a body's end
  matcher.feed_response("xxxxxxxx", 300);
  matcher.close(400);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  EXPECT_EQ(matcher.stats().unanswered, 0u);
  EXPECT_EQ(matcher.stats().requests_unpaired_after_loss, 1u);
}

// More responses than kMaxWaitingResponses arrive while their requests wait
// behind a hole (the sensor's stream buffer holds them): the oldest responses
// are dropped, after which the rest may not pair in order, or the first
// request seen would take a later request's answer.
TEST(Http1Exchange, ResponsesDroppedWhileWaitingEndInOrderPairing) {
  ExchangeMatcher matcher;
  constexpr int kRequests = 24;
  std::vector<std::string> requests;
  std::vector<uint64_t> request_pos, response_pos_at_send;
  uint64_t req = 0, resp = 0;
  for (int n = 0; n < kRequests; ++n) {  // one at a time: each answered before the next
    requests.push_back(get("/r" + std::to_string(n)));
    request_pos.push_back(req);
    response_pos_at_send.push_back(resp);
    req += requests.back().size();
    const std::string answer = "HTTP/1.1 " + std::to_string(200 + n) + " X\r\nContent-Length: 0\r\n\r\n";
    matcher.place_response_chunk({resp, req, 0});
    matcher.feed_response(answer, 100 + n);
    resp += answer.size();
  }
  for (int n = 0; n < kRequests; ++n) {  // the hole is given up: the requests come through
    matcher.place_request_chunk({request_pos[n], response_pos_at_send[n], 0});
    matcher.feed_request(requests[n], 100 + n);
  }
  matcher.close(500);
  for (const Exchange& x : matcher.take_exchanges()) {
    ASSERT_TRUE(x.response) << x.request.target;
    EXPECT_EQ("/r" + std::to_string(x.response->status_code - 200), x.request.target);
  }
  EXPECT_EQ(matcher.stats().unanswered, 0u);
}

// No exchange came out, and the counters say how many of each were left out.
void expect_nothing_paired(ExchangeMatcher& matcher, uint64_t requests, uint64_t responses) {
  EXPECT_TRUE(matcher.take_exchanges().empty());
  EXPECT_EQ(matcher.stats().requests_unpaired_after_loss, requests);
  EXPECT_EQ(matcher.stats().responses_unpaired_after_loss, responses);
  EXPECT_EQ(matcher.stats().unanswered, 0u);
}

TEST(Http1Exchange, AfterALossWithoutPlacementsNothingIsPairedAndAllIsCounted) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/a"), 100);
  matcher.gap_response(700, 150);
  matcher.feed_request(get("/b"), 300);
  matcher.feed_response(kNotFound, 400);
  matcher.close(500);
  expect_nothing_paired(matcher, /*requests=*/2, /*responses=*/1);
}

TEST(Http1Exchange, AfterALossAPipeliningConnectionPairsNothing) {
  // Pipelined GET, HEAD, GET; the answer to the first GET is lost. Which answers
  // were lost is unknown, so no pair is certain.
  ExchangeMatcher matcher;
  Wire wire(matcher);
  wire.request(get("/a") + head("/b") + get("/c"), 10);
  wire.lose_response(120, 15);
  wire.response(kHeadAnswer, 25);
  wire.response(ok("see"), 35);
  matcher.close(40);
  expect_nothing_paired(matcher, /*requests=*/3, /*responses=*/1);
}

TEST(Http1Exchange, GapInsideAResponseBodyKeepsFifoPairing) {
  ExchangeMatcher matcher;
  matcher.feed_request(get("/file") + get("/next"), 100);
  matcher.feed_response("HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n", 200);
  matcher.gap_response(65536, 201);  // sendfile: the body was never copied
  matcher.feed_response(kNotFound, 202);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /file -> 200", "GET /next -> 404"}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].response->body_had_gap);
  EXPECT_EQ(out[0].response->body_bytes, 65536u);
  EXPECT_EQ(matcher.stats().unanswered, 0u);
}

TEST(Http1Exchange, LostRequestLeavesItsResponseOrphaned) {
  ExchangeMatcher matcher;
  Wire wire(matcher);
  wire.request(get("/a"), 100);
  wire.response(ok("A"), 150);
  wire.request(get("/a2"), 160);
  wire.response(ok("A2"), 170);
  wire.request("GET /b HTTP/1.1\r\nHo", 200);
  wire.lose_request(40, 201);  // the rest of /b is lost
  wire.response(ok("B"), 250);
  wire.request(get("/c"), 300);
  wire.response(ok("C"), 350);  // requests lost just before /c may be owed answers: no pair
  wire.request(get("/d"), 400);
  wire.response(ok("D"), 450);
  std::vector<Exchange> out = matcher.take_exchanges();
  // /b's start line arrived whole: it is reported, cut, with its answer.
  EXPECT_EQ(pairs(out), (Pairs{"GET /a -> 200", "GET /a2 -> 200", "GET /b -> 200", "GET /d -> 200"}));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(out[2].request.head_cut);
  EXPECT_EQ(out[3].response->first_ts, 450u);
  EXPECT_EQ(matcher.stats().requests_unpaired_after_loss, 1u);
  EXPECT_EQ(matcher.stats().responses_unpaired_after_loss, 1u);
  EXPECT_EQ(matcher.request_stats().resyncs, 1u);
}

TEST(Http1Exchange, WebSocketUpgradeStopsBothParsers) {
  ExchangeMatcher matcher;
  matcher.feed_request(kWebSocketRequest, 100);
  // The first frame is delivered before the 101: it must not be parsed as HTTP.
  matcher.feed_request("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s, 120);
  EXPECT_FALSE(matcher.upgraded());
  matcher.feed_response(std::string(kSwitchingProtocols) + "\x81\x05hello", 110);
  EXPECT_TRUE(matcher.upgraded());
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /chat -> 101"}));
  matcher.feed_request(get("/looks-like-http"), 130);
  matcher.feed_response(kNotFound, 140);
  matcher.close(150);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  EXPECT_EQ(matcher.request_stats().errors, 0u);
  EXPECT_EQ(matcher.response_stats().errors, 0u);
  EXPECT_EQ(matcher.stats().exchanges, 1u);
  EXPECT_EQ(matcher.stats().informational, 0u);
}

// An owner that parses the new protocol gets every byte after the switch, in stream
// order: the request bytes held until the 101, the rest of the 101's chunk, and gaps.
TEST(Http1Exchange, KeptBytesAfterUpgradeComeOutInOrder) {
  ExchangeMatcher matcher;
  matcher.keep_bytes_after_upgrade();
  matcher.feed_request(std::string(kWebSocketRequest) + "held", 100);
  matcher.gap_request(3, 105);
  matcher.feed_request("more", 106);
  EXPECT_TRUE(matcher.take_upgraded_request_bytes().empty());  // not known to be upgraded yet
  matcher.feed_response(std::string(kSwitchingProtocols) + "tail", 110);
  matcher.feed_request("late", 120);
  matcher.gap_response(7, 130);

  std::vector<StreamPiece> req = matcher.take_upgraded_request_bytes();
  ASSERT_EQ(req.size(), 4u);
  EXPECT_EQ(req[0].bytes, "held");
  EXPECT_EQ(req[1].gap, 3u);
  EXPECT_TRUE(req[1].bytes.empty());
  EXPECT_EQ(req[2].bytes, "more");
  EXPECT_EQ(req[3].bytes, "late");
  EXPECT_EQ(req[3].ts, 120u);
  std::vector<StreamPiece> resp = matcher.take_upgraded_response_bytes();
  ASSERT_EQ(resp.size(), 2u);
  EXPECT_EQ(resp[0].bytes, "tail");
  EXPECT_EQ(resp[1].gap, 7u);
  EXPECT_TRUE(matcher.take_upgraded_request_bytes().empty());
  EXPECT_EQ(matcher.request_stats().skipped_bytes, 0u);
}

TEST(Http1Exchange, DeclinedUpgradeResumesHttp) {
  ExchangeMatcher matcher;
  const std::string h2c_upgrade =
      "GET / HTTP/1.1\r\nHost: server.example.com\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
  matcher.feed_request(h2c_upgrade + get("/second"), 100);
  EXPECT_EQ(matcher.request_stats().messages, 1u);  // the rest waits for the answer
  matcher.feed_response(ok("plain http/1.1") + std::string(kNotFound), 200);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET / -> 200", "GET /second -> 404"}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].request.stream_offset, h2c_upgrade.size());
  EXPECT_EQ(out[1].request.first_ts, 100u);
  EXPECT_FALSE(matcher.upgraded());
}

TEST(Http1Exchange, DeclinedUpgradeAnsweredBeforeTheNextRequest) {
  ExchangeMatcher matcher;
  matcher.feed_request(kWebSocketRequest, 100);
  matcher.feed_response("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", 110);
  matcher.feed_request(get("/plain"), 120);
  matcher.feed_response(ok("fine"), 130);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /chat -> 426", "GET /plain -> 200"}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].request.stream_offset, kWebSocketRequest.size());
}

TEST(Http1Exchange, ChainOfDeclinedUpgradesKeepsEveryRequest) {
  // Each declined upgrade replays held input, which holds again at the next upgrade
  // request; the requests behind them must all come out, in order.
  ExchangeMatcher matcher;
  const std::string declined = "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n";
  matcher.feed_request(std::string(kWebSocketRequest) + std::string(kWebSocketRequest) +
                           get("/after") + "POST /form HTTP/1.1\r\nContent-Length: 100\r\n\r\nab",
                       100);
  matcher.feed_response(declined + declined + ok("after"), 200);
  EXPECT_EQ(pairs(matcher.take_exchanges()),
            (Pairs{"GET /chat -> 426", "GET /chat -> 426", "GET /after -> 200"}));
  matcher.close(300);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"POST /form -> -"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].request.complete);
  EXPECT_EQ(out[0].request.body_bytes, 2u);
  EXPECT_EQ(matcher.stats().exchanges, matcher.request_stats().messages);
}

TEST(Http1Exchange, ConnectTunnel) {
  ExchangeMatcher matcher;
  matcher.feed_request("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
                       "Proxy-Connection: Keep-Alive\r\n\r\n", 1);
  matcher.feed_response("HTTP/1.1 200 Connection established\r\n\r\n", 2);
  matcher.feed_request("\x16\x03\x01\x00\xf1\x01\x00\x00\xed\x03\x03"s, 3);
  matcher.feed_response("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"s, 4);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"CONNECT api.example.com:443 -> 200"}));
  EXPECT_TRUE(matcher.upgraded());
  EXPECT_EQ(matcher.request_stats().errors, 0u);
  EXPECT_EQ(matcher.response_stats().errors, 0u);
}

TEST(Http1Exchange, JoinedMidStream) {
  ExchangeMatcher matcher;
  Wire wire(matcher, 9000, 4000);  // the streams were that old when the sensor started
  matcher.start_midstream();
  // We join while a response to a request we never saw is on the wire.
  wire.response("e\": [1, 2, 3]}\r\n" + ok("for-unseen"), 50);
  wire.request("rest of an old upload body\r\n" + get("/seen"), 100);
  wire.response(kNotFound, 150);
  // Whether /seen was the only request out is unknown until the client is seen
  // waiting for an answer before its next request.
  wire.request(get("/next"), 200);
  wire.response(ok("next"), 250);
  std::vector<Exchange> out = matcher.take_exchanges();
  EXPECT_EQ(pairs(out), (Pairs{"GET /next -> 200"}));
  EXPECT_EQ(matcher.stats().orphan_responses, 1u);
  EXPECT_EQ(matcher.stats().responses_unpaired_after_loss, 1u);
  EXPECT_EQ(matcher.stats().requests_unpaired_after_loss, 1u);
  EXPECT_EQ(matcher.request_stats().resyncs, 1u);
  EXPECT_EQ(matcher.response_stats().resyncs, 1u);
  EXPECT_EQ(matcher.request_stats().errors, 0u);
}

TEST(Http1Exchange, InterimWithoutPendingRequestIsOnlyCounted) {
  ExchangeMatcher matcher;
  matcher.feed_response("HTTP/1.1 100 Continue\r\n\r\n", 1);
  EXPECT_EQ(matcher.stats().informational, 1u);
  matcher.close(2);
  EXPECT_TRUE(matcher.take_exchanges().empty());
  EXPECT_EQ(matcher.stats().orphan_responses, 0u);
}

TEST(Http1Exchange, PendingRequestsAreBoundedWithoutFalseErrors) {
  ExchangeMatcher matcher;
  const size_t total = ExchangeMatcher::kMaxPending + 44;
  for (size_t i = 0; i < total; ++i) matcher.feed_request(get("/" + std::to_string(i)), i);
  // The oldest 44 are dropped and counted, not emitted as unanswered errors.
  EXPECT_TRUE(matcher.take_exchanges().empty());
  EXPECT_EQ(matcher.stats().dropped_over_bound, 44u);
  matcher.close(total);
  EXPECT_EQ(matcher.take_exchanges().size(), ExchangeMatcher::kMaxPending);
  EXPECT_EQ(matcher.stats().unanswered, ExchangeMatcher::kMaxPending);
}

// Pipelining deeper than the bound must not shift the pairing: the answers of
// the dropped requests come first and are skipped, and every request that
// gets an exchange gets its own response (the body names the request).
TEST(Http1Exchange, PipeliningBeyondTheBoundKeepsEveryPairRight) {
  ExchangeMatcher matcher;
  const size_t total = 2000;
  for (size_t i = 0; i < total; ++i) matcher.feed_request(get("/" + std::to_string(i)), i);
  std::vector<Exchange> out;
  for (size_t i = 0; i < total; ++i) {
    // A HEAD-free mix of statuses and bodies, so framing depends on nothing guessed.
    matcher.feed_response(i % 3 == 0 ? std::string(kNotFound) : ok("/" + std::to_string(i)), total + i);
    for (auto& e : matcher.take_exchanges()) out.push_back(std::move(e));
  }
  matcher.close(2 * total);
  for (auto& e : matcher.take_exchanges()) out.push_back(std::move(e));
  const size_t dropped = total - ExchangeMatcher::kMaxPending;
  EXPECT_EQ(matcher.stats().dropped_over_bound, dropped);
  ASSERT_EQ(out.size(), ExchangeMatcher::kMaxPending);
  for (size_t k = 0; k < out.size(); ++k) {
    const size_t i = dropped + k;
    ASSERT_EQ(out[k].request.target, "/" + std::to_string(i));
    ASSERT_TRUE(out[k].response) << i;
    EXPECT_EQ(out[k].response->status_code, i % 3 == 0 ? 404 : 200) << i;
  }
  EXPECT_EQ(matcher.stats().unanswered, 0u);
  EXPECT_EQ(matcher.stats().orphan_responses, 0u);
}

}  // namespace
}  // namespace spanwire::http1
