// Unit tests for the one-direction HTTP/1.x parser and the start-line detectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "http1/detect.h"
#include "http1/parser.h"

namespace spanwire::http1 {
namespace {

using namespace std::string_literals;

// --- realistic traffic ---

constexpr std::string_view kBrowserGet =
    "GET /index.html?lang=en HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

constexpr std::string_view kOrderJson = R"({"item":"book","qty":2})";
static_assert(kOrderJson.size() == 23);

constexpr std::string_view kJsonPostHead =
    "POST /api/v1/orders HTTP/1.1\r\n"
    "Host: shop.internal:8080\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 23\r\n"
    "\r\n";

const std::string kJsonPost = std::string(kJsonPostHead) + std::string(kOrderJson);

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 12\r\n"
    "\r\n"
    "hello world\n";

constexpr std::string_view kNotFound =
    "HTTP/1.1 404 Not Found\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 9\r\n"
    "\r\n"
    "not found";

// Chunk extension on the first chunk, a trailer after the last one.
constexpr std::string_view kChunkedHead =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Trailer: Expires\r\n"
    "\r\n";
constexpr std::string_view kChunkedBody =
    "7;name=\"value\"\r\n"
    "Mozilla\r\n"
    "11\r\n"
    "Developer Network\r\n"
    "0\r\n"
    "Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
    "\r\n";
const std::string kChunked = std::string(kChunkedHead) + std::string(kChunkedBody);

constexpr std::string_view kNotModified =
    "HTTP/1.1 304 Not Modified\r\n"
    "ETag: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"\r\n"
    "Cache-Control: max-age=3600\r\n"
    "Content-Length: 1024\r\n"  // length of the cached entity: no body follows
    "\r\n";

constexpr std::string_view kNoContent =
    "HTTP/1.1 204 No Content\r\n"
    "Date: Mon, 27 Jul 2009 12:28:53 GMT\r\n"
    "\r\n";

size_t head_size(std::string_view message) { return message.find("\r\n\r\n") + 4; }

// --- helpers ---

std::string describe_fields(const std::vector<Header>& fields) {
  std::string s;
  for (const Header& h : fields) s += "[" + h.name + ": " + h.value + "]";
  return s;
}

// Every field of a message, so that a failed comparison says what differs.
std::string describe(const Message& m) {
  std::string s = m.kind == Kind::kRequest ? "REQ " + m.method + " " + m.target
                                           : "RSP " + std::to_string(m.status_code) + " " + m.reason;
  s += " v1." + std::to_string(m.version_minor) + " head=" + std::to_string(m.header_bytes) +
       " body=" + std::to_string(m.body_bytes) + (m.chunked ? " chunked" : "") +
       (m.complete ? "" : " INCOMPLETE") + (m.body_had_gap ? " body-gap" : "") +
       (m.after_resync ? " after-resync" : "") + (m.headers_truncated ? " truncated" : "") +
       " @" + std::to_string(m.stream_offset) + " ts=" + std::to_string(m.first_ts) + ".." +
       std::to_string(m.last_ts) + " " + describe_fields(m.headers) + " trailers=" +
       describe_fields(m.trailers);
  return s;
}

std::vector<std::string> describe(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(describe(m));
  return out;
}

std::vector<Message> parse_whole(Kind kind, std::string_view stream,
                                 const std::vector<std::string>& methods = {}) {
  Parser parser(kind);
  for (const std::string& method : methods) parser.expect_response_to(method);
  parser.feed(stream, 1);
  parser.close(2);
  return parser.take_messages();
}

// Feeds `stream` cut at the given ascending positions, all with the same timestamp.
std::vector<Message> parse_in_pieces(Kind kind, std::string_view stream,
                                     const std::vector<size_t>& cuts,
                                     const std::vector<std::string>& methods = {}) {
  Parser parser(kind);
  for (const std::string& method : methods) parser.expect_response_to(method);
  size_t from = 0;
  for (size_t cut : cuts) {
    parser.feed(stream.substr(from, cut - from), 1);
    from = cut;
  }
  parser.feed(stream.substr(from), 1);
  parser.close(2);
  return parser.take_messages();
}

std::vector<size_t> every_byte(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

// --- start lines, headers ---

TEST(Http1Parser, ParsesBrowserGet) {
  Parser parser(Kind::kRequest);
  parser.feed(kBrowserGet, 42);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  const Message& m = out[0];
  EXPECT_EQ(m.kind, Kind::kRequest);
  EXPECT_EQ(m.method, "GET");
  EXPECT_EQ(m.target, "/index.html?lang=en");
  EXPECT_EQ(m.version_minor, 1);
  EXPECT_EQ(m.status_code, 0);
  EXPECT_EQ(describe_fields(m.headers),
            "[Host: www.example.com]"
            "[User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0]"
            "[Accept: text/html,application/xhtml+xml][Accept-Language: en-US,en;q=0.5]"
            "[Accept-Encoding: gzip, deflate, br][Connection: keep-alive]");
  ASSERT_NE(m.header("host"), nullptr);
  EXPECT_EQ(*m.header("HOST"), "www.example.com");
  EXPECT_EQ(*m.header("accept-ENCODING"), "gzip, deflate, br");
  EXPECT_EQ(m.header("Cookie"), nullptr);
  EXPECT_EQ(m.header_bytes, kBrowserGet.size());
  EXPECT_EQ(m.body_bytes, 0u);
  EXPECT_FALSE(m.chunked);
  EXPECT_TRUE(m.complete);
  EXPECT_FALSE(m.body_had_gap);
  EXPECT_FALSE(m.after_resync);
  EXPECT_EQ(m.stream_offset, 0u);
  EXPECT_EQ(m.first_ts, 42u);
  EXPECT_EQ(m.last_ts, 42u);
  EXPECT_EQ(parser.stats().messages, 1u);
  EXPECT_EQ(parser.stats().errors, 0u);
  EXPECT_EQ(parser.stats().resyncs, 0u);
  EXPECT_EQ(parser.stats().skipped_bytes, 0u);
}

TEST(Http1Parser, ParsesJsonPostWithContentLength) {
  std::vector<Message> out = parse_whole(Kind::kRequest, kJsonPost + std::string(kBrowserGet));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].method, "POST");
  EXPECT_EQ(out[0].target, "/api/v1/orders");
  EXPECT_EQ(*out[0].header("content-type"), "application/json");
  EXPECT_EQ(out[0].header_bytes, kJsonPostHead.size());
  EXPECT_EQ(out[0].body_bytes, 23u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_EQ(out[1].method, "GET");
  EXPECT_EQ(out[1].stream_offset, kJsonPost.size());
}

TEST(Http1Parser, ParsesStatusLinesAndKeepAliveResponses) {
  const std::string stream = std::string(kOk) + std::string(kNotFound) + std::string(kOk);
  std::vector<Message> out = parse_whole(Kind::kResponse, stream);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, Kind::kResponse);
  EXPECT_EQ(out[0].status_code, 200);
  EXPECT_EQ(out[0].reason, "OK");
  EXPECT_EQ(out[0].body_bytes, 12u);
  EXPECT_EQ(out[0].header_bytes, head_size(kOk));
  EXPECT_EQ(out[1].status_code, 404);
  EXPECT_EQ(out[1].reason, "Not Found");
  EXPECT_EQ(out[1].body_bytes, 9u);
  EXPECT_EQ(out[1].stream_offset, kOk.size());
  EXPECT_EQ(out[2].stream_offset, kOk.size() + kNotFound.size());
  for (const Message& m : out) EXPECT_TRUE(m.complete) << describe(m);
}

TEST(Http1Parser, ParsesHttp10) {
  std::vector<Message> requests =
      parse_whole(Kind::kRequest, "GET /legacy HTTP/1.0\r\nUser-Agent: Wget/1.21\r\n\r\n");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].version_minor, 0);
  EXPECT_EQ(requests[0].target, "/legacy");

  std::vector<Message> responses =
      parse_whole(Kind::kResponse, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].version_minor, 0);
  EXPECT_EQ(responses[0].body_bytes, 2u);
}

TEST(Http1Parser, ParsesPipelinedRequestsInOneFeed) {
  const std::string stream = std::string(kBrowserGet) + kJsonPost +
                             "DELETE /api/v1/orders/17 HTTP/1.1\r\nHost: shop.internal\r\n\r\n";
  std::vector<Message> out = parse_whole(Kind::kRequest, stream);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].method, "GET");
  EXPECT_EQ(out[1].method, "POST");
  EXPECT_EQ(out[1].stream_offset, kBrowserGet.size());
  EXPECT_EQ(out[2].method, "DELETE");
  EXPECT_EQ(out[2].target, "/api/v1/orders/17");
  EXPECT_EQ(out[2].stream_offset, kBrowserGet.size() + kJsonPost.size());
}

TEST(Http1Parser, AcceptsAllCommonMethods) {
  const std::vector<std::string> lines = {
      "GET / HTTP/1.1",        "HEAD / HTTP/1.1",     "POST /f HTTP/1.1",
      "PUT /f HTTP/1.1",       "DELETE /f HTTP/1.1",  "CONNECT db.internal:5432 HTTP/1.1",
      "OPTIONS * HTTP/1.1",    "TRACE / HTTP/1.1",    "PATCH /f HTTP/1.1",
      "PROPFIND /dav/ HTTP/1.1"};
  std::string stream;
  for (const std::string& line : lines) stream += line + "\r\nHost: h\r\n\r\n";
  std::vector<Message> out = parse_whole(Kind::kRequest, stream);
  ASSERT_EQ(out.size(), lines.size());
  EXPECT_EQ(out[5].method, "CONNECT");
  EXPECT_EQ(out[5].target, "db.internal:5432");
  EXPECT_EQ(out[6].target, "*");
  EXPECT_EQ(out[9].method, "PROPFIND");
}

TEST(Http1Parser, ToleratesBareLfAndTrimsOptionalWhitespace) {
  const std::string stream =
      "GET /lf HTTP/1.1\n"
      "Host:example.org\n"
      "Accept: \t */*  \t\n"
      "X-Empty:\n"
      "\n";
  std::vector<Message> out = parse_whole(Kind::kRequest, stream);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(describe_fields(out[0].headers), "[Host: example.org][Accept: */*][X-Empty: ]");
  EXPECT_EQ(out[0].header_bytes, stream.size());
}

TEST(Http1Parser, KeepsHeaderNameCaseAndJoinsObsoleteLineFolding) {
  const std::string stream =
      "GET / HTTP/1.1\r\n"
      "x-REQUEST-id: abc\r\n"
      "X-Long: part one\r\n"
      "   part two\r\n"
      "\r\n";
  std::vector<Message> out = parse_whole(Kind::kRequest, stream);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].headers[0].name, "x-REQUEST-id");
  EXPECT_EQ(*out[0].header("X-Request-Id"), "abc");
  EXPECT_EQ(*out[0].header("x-long"), "part one part two");
}

TEST(Http1Parser, StatusLineWithoutReasonPhrase) {
  std::vector<Message> out =
      parse_whole(Kind::kResponse, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status_code, 200);
  EXPECT_EQ(out[0].reason, "");
}

TEST(Http1Parser, ToleratesEmptyLinesBetweenMessages) {
  // Some clients send a CRLF after a POST body.
  const std::string stream = kJsonPost + "\r\n" + std::string(kBrowserGet);
  Parser parser(Kind::kRequest);
  parser.feed(stream, 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].stream_offset, kJsonPost.size() + 2);
  EXPECT_EQ(parser.stats().errors, 0u);
  EXPECT_EQ(parser.stats().resyncs, 0u);
}

// --- bodies ---

TEST(Http1Parser, ChunkedBodyWithExtensionsAndTrailers) {
  std::vector<Message> out = parse_whole(Kind::kResponse, kChunked + std::string(kOk));
  ASSERT_EQ(out.size(), 2u);
  const Message& m = out[0];
  EXPECT_TRUE(m.chunked);
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(m.body_bytes, 7u + 17u);  // payload only, no framing
  EXPECT_EQ(m.header_bytes, kChunkedHead.size());
  EXPECT_EQ(*m.header("transfer-encoding"), "chunked");
  // Trailers are kept apart from the header fields.
  EXPECT_EQ(m.header("Expires"), nullptr);
  EXPECT_EQ(describe_fields(m.trailers), "[Expires: Wed, 21 Oct 2015 07:28:00 GMT]");
  EXPECT_EQ(out[1].stream_offset, kChunked.size());
  EXPECT_EQ(out[1].body_bytes, 12u);
}

TEST(Http1Parser, ChunkedRequestWithBareLfFraming) {
  const std::string stream =
      "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
      "4\nWiki\n"
      "A  ; ext\r\n0123456789\r\n"
      "0\n\n"
      "GET /next HTTP/1.1\r\n\r\n";
  std::vector<Message> out = parse_whole(Kind::kRequest, stream);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].chunked);
  EXPECT_EQ(out[0].body_bytes, 14u);
  EXPECT_TRUE(out[0].trailers.empty());
  EXPECT_EQ(out[1].target, "/next");
}

TEST(Http1Parser, TransferEncodingOverridesContentLength) {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n" + std::string(kNoContent);
  std::vector<Message> out = parse_whole(Kind::kResponse, stream);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].chunked);
  EXPECT_EQ(out[0].body_bytes, 3u);
  EXPECT_EQ(out[1].status_code, 204);
}

TEST(Http1Parser, HeadResponseHasNoBody) {
  const std::string head_response =
      "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 73400320\r\n\r\n";
  const std::vector<std::string> methods = {"HEAD", "GET"};
  std::vector<Message> out =
      parse_whole(Kind::kResponse, head_response + std::string(kOk), methods);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body_bytes, 0u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_EQ(out[1].stream_offset, head_response.size());
  EXPECT_EQ(out[1].body_bytes, 12u);
}

TEST(Http1Parser, InterimResponsesDoNotConsumeTheExpectedMethod) {
  const std::string stream = "HTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n"  // answers HEAD
                             + std::string(kOk);
  Parser parser(Kind::kResponse);
  parser.expect_response_to("HEAD");
  parser.expect_response_to("GET");
  parser.feed(stream, 5);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].status_code, 100);
  EXPECT_EQ(out[0].body_bytes, 0u);
  EXPECT_EQ(out[1].status_code, 103);
  EXPECT_EQ(out[2].status_code, 200);
  EXPECT_EQ(out[2].body_bytes, 0u);
  EXPECT_EQ(out[3].body_bytes, 12u);
  EXPECT_EQ(parser.expected_responses(), 0u);
}

TEST(Http1Parser, NoBodyFor204And304EvenWithContentLength) {
  const std::string stream = std::string(kNoContent) + std::string(kNotModified) + std::string(kOk);
  std::vector<Message> out = parse_whole(Kind::kResponse, stream);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].status_code, 204);
  EXPECT_EQ(out[0].body_bytes, 0u);
  EXPECT_EQ(out[1].status_code, 304);
  EXPECT_EQ(out[1].body_bytes, 0u);
  EXPECT_EQ(*out[1].header("content-length"), "1024");
  EXPECT_EQ(out[2].status_code, 200);
  EXPECT_EQ(out[2].body_bytes, 12u);
}

TEST(Http1Parser, CloseDelimitedResponse) {
  constexpr std::string_view kHead = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n";
  Parser parser(Kind::kResponse);
  parser.feed(kHead, 10);
  parser.feed("<html><body>legacy", 11);
  parser.feed("</body></html>\n", 12);
  EXPECT_TRUE(parser.take_messages().empty());  // only the close ends it
  parser.close(13);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_EQ(out[0].body_bytes, 33u);
  EXPECT_EQ(out[0].first_ts, 10u);
  EXPECT_EQ(out[0].last_ts, 12u);  // the close carries no byte
  parser.feed(kOk, 14);           // nothing after the end of the stream
  EXPECT_TRUE(parser.take_messages().empty());
}

TEST(Http1Parser, ResponseWithOnlyANonChunkedCodingIsCloseDelimited) {
  std::vector<Message> out = parse_whole(
      Kind::kResponse, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00"s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].chunked);
  EXPECT_EQ(out[0].body_bytes, 4u);
  EXPECT_TRUE(out[0].complete);
}

TEST(Http1Parser, RequestWithoutFramingHasNoBody) {
  const std::string stream = "POST /ping HTTP/1.1\r\nHost: h\r\n\r\n" + std::string(kBrowserGet);
  std::vector<Message> out = parse_whole(Kind::kRequest, stream);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body_bytes, 0u);
  EXPECT_EQ(out[1].method, "GET");
}

TEST(Http1Parser, RepeatedEqualContentLengthsAreAccepted) {
  std::vector<Message> out = parse_whole(
      Kind::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body_bytes, 5u);
}

TEST(Http1Parser, ConflictingContentLengthReportsTheHeadThenResyncs) {
  const std::string bad = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
  Parser parser(Kind::kResponse);
  parser.feed(bad + "hello!\r\n" + std::string(kOk), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status_code, 200);  // the head is certain, the body's end is not
  EXPECT_TRUE(out[0].framing_invalid);
  EXPECT_FALSE(out[0].complete);
  EXPECT_EQ(out[1].stream_offset, bad.size() + 8);
  EXPECT_TRUE(out[1].after_resync);
  EXPECT_EQ(out[1].body_bytes, 12u);
  EXPECT_EQ(parser.stats().errors, 1u);
  EXPECT_EQ(parser.stats().framing_invalid, 1u);
  EXPECT_EQ(parser.stats().resyncs, 1u);
  EXPECT_EQ(parser.stats().skipped_bytes, 8u);
}

TEST(Http1Parser, InvalidContentLengthReportsTheRequestHead) {
  for (const char* value : {"abc", "-1", "", "12 34", "99999999999999999999", "100000000000000000000000",
                            "18446744073709551615", "5, 6"}) {
    Parser parser(Kind::kRequest);
    parser.feed("PUT /x HTTP/1.1\r\nContent-Length: "s + value + "\r\n\r\n" + std::string(kBrowserGet), 1);
    std::vector<Message> out = parser.take_messages();
    ASSERT_EQ(out.size(), 2u) << value;
    EXPECT_EQ(out[0].method, "PUT") << value;
    EXPECT_EQ(out[0].target, "/x") << value;
    EXPECT_TRUE(out[0].framing_invalid) << value;
    EXPECT_EQ(out[1].method, "GET") << value;
    EXPECT_EQ(parser.stats().errors, 1u) << value;
  }
}

TEST(Http1Parser, RequestWithUnknownTransferCodingReportsTheHead) {
  Parser parser(Kind::kRequest);
  parser.feed("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + std::string(kBrowserGet), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].framing_invalid);
  EXPECT_EQ(out[1].method, "GET");
  EXPECT_EQ(parser.stats().errors, 1u);
}

TEST(Http1Parser, WhileResynchronisingAnUnframableHeadIsAFalseLead) {
  Parser parser(Kind::kRequest);
  parser.start_midstream();
  parser.feed("PUT /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n" + std::string(kBrowserGet), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].method, "GET");
  EXPECT_EQ(parser.stats().framing_invalid, 0u);
}

TEST(Http1Parser, BadChunkSizeEmitsTheMessageIncomplete) {
  Parser parser(Kind::kResponse);
  parser.feed(std::string(kChunkedHead) + "5\r\nhello\r\nzz\r\n" + std::string(kNoContent), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].complete);
  EXPECT_EQ(out[0].body_bytes, 5u);
  EXPECT_EQ(out[1].status_code, 204);
  EXPECT_TRUE(out[1].after_resync);
  EXPECT_EQ(parser.stats().errors, 1u);
}

TEST(Http1Parser, OverlongChunkExtensionIsAnError) {
  Limits limits;
  limits.max_header_bytes = 512;
  Parser parser(Kind::kResponse, limits);
  parser.feed(std::string(kChunkedHead) + "5;" + std::string(600, 'e') + "\r\nhello\r\n0\r\n\r\n" +
                  std::string(kNoContent), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].complete);
  EXPECT_EQ(out[1].status_code, 204);
  EXPECT_EQ(parser.stats().errors, 1u);
}

// --- split independence ---

// A stream mixing every framing, plus garbage that forces an error and a resync.
std::string response_corpus() {
  return std::string(kOk) + kChunked + std::string(kNotModified) + std::string(kNoContent) +
         "HTTP/1.1 100 Continue\r\n\r\n" + std::string(kNotFound) + "garbage\r\n" + std::string(kOk) +
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Fold: a\r\n b\r\n\r\nabc" +
         "HTTP/1.0 200 OK\r\n\r\nclose-delimited tail";
}

std::string request_corpus() {
  return std::string(kBrowserGet) + kJsonPost + "\r\n" +
         "POST /chunks HTTP/1.1\nTransfer-Encoding: chunked\n\n5;a=b\nhello\n0\nX-T: 1\n\n" +
         "GARBAGE LINE\r\n" + std::string(kBrowserGet) + "HEAD /h HTTP/1.0\r\n\r\n";
}

void expect_split_independent(Kind kind, const std::string& stream) {
  const std::vector<std::string> methods = {"GET", "GET", "HEAD", "GET", "GET", "GET", "GET"};
  const std::vector<Message> whole = parse_whole(kind, stream, methods);
  ASSERT_GE(whole.size(), 5u);

  const std::vector<Message> bytewise =
      parse_in_pieces(kind, stream, every_byte(stream.size()), methods);
  EXPECT_EQ(describe(bytewise), describe(whole));
  EXPECT_TRUE(bytewise == whole);

  std::mt19937 rng(20240607);  // fixed seed: reproducible
  for (int round = 0; round < 200; ++round) {
    std::uniform_int_distribution<size_t> position(1, stream.size() - 1);
    std::vector<size_t> cuts(std::uniform_int_distribution<size_t>(1, 12)(rng));
    for (size_t& cut : cuts) cut = position(rng);
    std::sort(cuts.begin(), cuts.end());
    const std::vector<Message> pieces = parse_in_pieces(kind, stream, cuts, methods);
    ASSERT_EQ(describe(pieces), describe(whole)) << "round " << round;
  }
}

TEST(Http1Parser, ResponsesAreIndependentOfFeedBoundaries) {
  expect_split_independent(Kind::kResponse, response_corpus());
}

TEST(Http1Parser, RequestsAreIndependentOfFeedBoundaries) {
  expect_split_independent(Kind::kRequest, request_corpus());
}

TEST(Http1Parser, CorpusParsesAsExpected) {
  // Pins what the split tests compare against.
  std::vector<Message> out = parse_whole(Kind::kRequest, request_corpus());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[2].target, "/chunks");
  EXPECT_EQ(out[2].body_bytes, 5u);
  EXPECT_EQ(describe_fields(out[2].trailers), "[X-T: 1]");
  EXPECT_TRUE(out[3].after_resync);
  EXPECT_EQ(out[4].method, "HEAD");
}

TEST(Http1Parser, TimestampsComeFromTheChunksCarryingFirstAndLastByte) {
  Parser parser(Kind::kRequest);
  parser.feed(std::string(kBrowserGet) + "POST /a HTTP/1.1\r\nCont", 100);
  parser.feed("ent-Length: 10\r\n\r\n01234", 200);
  parser.feed("56789GET /b HTTP/1.1\r\n", 300);
  parser.feed("\r\n", 400);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].first_ts, 100u);
  EXPECT_EQ(out[0].last_ts, 100u);
  EXPECT_EQ(out[1].first_ts, 100u);
  EXPECT_EQ(out[1].last_ts, 300u);
  EXPECT_EQ(out[1].stream_offset, kBrowserGet.size());
  EXPECT_EQ(out[2].first_ts, 300u);
  EXPECT_EQ(out[2].last_ts, 400u);
}

// --- limits ---

std::string request_with_head_size(size_t size) {
  std::string head = "GET /a HTTP/1.1\r\nCookie: ";
  const size_t fixed = head.size() + 4;  // + "\r\n\r\n"
  head += std::string(size - fixed, 'c') + "\r\n\r\n";
  return head;
}

TEST(Http1Parser, HeadAtTheLimitIsAcceptedOneMoreIsAnError) {
  Limits limits;
  limits.max_header_bytes = 256;
  {
    Parser parser(Kind::kRequest, limits);
    parser.feed(request_with_head_size(256), 1);
    std::vector<Message> out = parser.take_messages();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].header_bytes, 256u);
  }
  {
    Parser parser(Kind::kRequest, limits);
    const std::string big = request_with_head_size(257);
    parser.feed(big + "GET /small HTTP/1.1\r\nHost: h\r\n\r\n", 1);
    std::vector<Message> out = parser.take_messages();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(out[0].head_cut);  // the start line and the fields before the limit
    EXPECT_FALSE(out[0].complete);
    EXPECT_EQ(out[1].target, "/small");
    EXPECT_EQ(out[1].stream_offset, big.size());
    EXPECT_EQ(parser.stats().errors, 0u);
    EXPECT_EQ(parser.stats().heads_cut, 1u);
    EXPECT_EQ(parser.stats().resyncs, 1u);
  }
}

TEST(Http1Parser, EndlessHeadIsReportedCutAtTheLimit) {
  Limits limits;
  limits.max_header_bytes = 1024;
  Parser parser(Kind::kRequest, limits);
  parser.feed("GET /stream HTTP/1.1\r\nHost: h\r\nX-Junk: ", 1);
  for (int i = 0; i < 1000; ++i) parser.feed(std::string(1000, 'x'), 1);  // 1 MB, no line end
  std::vector<Message> cut = parser.take_messages();
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].target, "/stream");
  EXPECT_TRUE(cut[0].head_cut);
  EXPECT_EQ(cut[0].headers, (std::vector<Header>{{"Host", "h"}}));
  parser.feed("\r\nGET /after HTTP/1.1\r\n\r\n", 2);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].target, "/after");
}

TEST(Http1Parser, HeaderCountIsBoundedButFramingStillHonoured) {
  Limits limits;
  limits.max_headers = 3;
  Parser parser(Kind::kResponse, limits);
  parser.feed("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nContent-Length: 4\r\n\r\nbody" +
                  std::string(kNoContent), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(describe_fields(out[0].headers), "[A: 1][B: 2][C: 3]");
  EXPECT_TRUE(out[0].headers_truncated);
  EXPECT_EQ(out[0].body_bytes, 4u);
  EXPECT_EQ(out[1].status_code, 204);
}

// --- gaps ---

TEST(Http1Parser, GapInsideContentLengthBodyIsCountedWithoutResync) {
  Parser parser(Kind::kResponse);
  parser.feed("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000\r\n\r\n", 1);
  parser.feed(std::string(4096, 'a'), 2);
  parser.gap(5000, 3);  // the kernel copied only part of a large write
  parser.feed(std::string(904, 'b'), 4);
  parser.feed(kOk, 5);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body_bytes, 10000u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_TRUE(out[0].body_had_gap);
  EXPECT_EQ(out[0].last_ts, 4u);
  EXPECT_FALSE(out[1].after_resync);
  EXPECT_EQ(out[1].body_bytes, 12u);
  EXPECT_EQ(parser.stats().resyncs, 0u);
}

TEST(Http1Parser, SendfileBodyArrivingAsOnePureGap) {
  constexpr std::string_view kHead = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
  Parser parser(Kind::kResponse);
  parser.feed(kHead, 1);
  parser.gap(1048576, 2);
  parser.feed(kNotFound, 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body_bytes, 1048576u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_TRUE(out[0].body_had_gap);
  EXPECT_EQ(out[0].last_ts, 2u);
  EXPECT_EQ(out[1].stream_offset, kHead.size() + 1048576u);
  EXPECT_EQ(out[1].status_code, 404);
  EXPECT_EQ(parser.stats().resyncs, 0u);
}

TEST(Http1Parser, GapInsideChunkDataIsCountedWithoutResync) {
  Parser parser(Kind::kResponse);
  parser.feed(std::string(kChunkedHead) + "10\r\n0123", 1);
  parser.gap(8, 2);
  parser.feed("CDEF\r\n0\r\n\r\n", 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].chunked);
  EXPECT_TRUE(out[0].complete);
  EXPECT_TRUE(out[0].body_had_gap);
  EXPECT_EQ(out[0].body_bytes, 16u);
  EXPECT_EQ(parser.stats().resyncs, 0u);
}

TEST(Http1Parser, GapPastTheEndOfABodyCompletesItThenResyncs) {
  constexpr std::string_view kHead = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  Parser parser(Kind::kResponse);
  parser.feed(kHead, 1);
  parser.gap(10 + 30, 2);  // the rest of the body and part of what follows
  parser.feed(kOk, 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_TRUE(out[0].body_had_gap);
  EXPECT_EQ(out[0].body_bytes, 10u);
  EXPECT_TRUE(out[1].after_resync);
  EXPECT_EQ(out[1].stream_offset, kHead.size() + 40);
  EXPECT_EQ(parser.stats().resyncs, 1u);
}

TEST(Http1Parser, GapInHeadReportsTheHeadCutThenResyncs) {
  constexpr std::string_view kPartial = "GET /lost HTTP/1.1\r\nAccept: */*\r\nHost: www.exa";
  Parser parser(Kind::kRequest);
  parser.feed(kPartial, 1);
  parser.gap(200, 2);
  parser.feed(kBrowserGet, 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].target, "/lost");
  EXPECT_TRUE(out[0].head_cut);
  EXPECT_EQ(out[0].headers, (std::vector<Header>{{"Accept", "*/*"}}));  // the cut field is not guessed
  EXPECT_EQ(out[1].target, "/index.html?lang=en");
  EXPECT_TRUE(out[1].after_resync);
  EXPECT_EQ(out[1].stream_offset, kPartial.size() + 200);
  EXPECT_EQ(out[1].first_ts, 3u);
  EXPECT_EQ(parser.stats().resyncs, 1u);
  EXPECT_EQ(parser.stats().errors, 0u);
  EXPECT_EQ(parser.stats().skipped_bytes, std::string_view("Host: www.exa").size());
}

TEST(Http1Parser, GapInChunkFramingEmitsIncompleteMessage) {
  Parser parser(Kind::kResponse);
  parser.feed(std::string(kChunkedHead) + "5\r\nhello\r\n", 1);
  parser.gap(3, 2);
  parser.feed(std::string("\r\n") + std::string(kNoContent), 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].complete);
  EXPECT_EQ(out[0].body_bytes, 5u);
  EXPECT_EQ(out[1].status_code, 204);
  EXPECT_EQ(parser.stats().resyncs, 1u);
}

TEST(Http1Parser, GapRunningPastAChunkEmitsIncompleteMessage) {
  Parser parser(Kind::kResponse);
  parser.feed(std::string(kChunkedHead) + "8\r\nabc", 1);
  parser.gap(100, 2);
  parser.feed(kOk, 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].complete);
  EXPECT_TRUE(out[0].body_had_gap);
  EXPECT_EQ(out[0].body_bytes, 8u);  // the chunk was certainly all body
  EXPECT_EQ(out[1].status_code, 200);
}

TEST(Http1Parser, GapInCloseDelimitedBodyIsCounted) {
  Parser parser(Kind::kResponse);
  parser.feed("HTTP/1.0 200 OK\r\n\r\nabc", 1);
  parser.gap(100, 2);
  parser.feed("xyz", 3);
  parser.close(4);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_TRUE(out[0].body_had_gap);
  EXPECT_EQ(out[0].body_bytes, 106u);
  EXPECT_EQ(parser.stats().resyncs, 0u);
}

TEST(Http1Parser, GapBetweenMessagesResyncsOnTheNextStartLine) {
  Parser parser(Kind::kRequest);
  parser.feed(kBrowserGet, 1);
  parser.gap(500, 2);  // a whole lost write
  parser.feed(kJsonPost, 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].after_resync);
  EXPECT_TRUE(out[1].after_resync);
  EXPECT_EQ(out[1].stream_offset, kBrowserGet.size() + 500);
  EXPECT_EQ(out[1].body_bytes, 23u);
  EXPECT_EQ(parser.stats().skipped_bytes, 0u);
}

TEST(Http1Parser, CloseMidBodyOrMidHeadEmitsIncomplete) {
  Parser parser(Kind::kResponse);
  parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 1);
  parser.close(2);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].complete);
  EXPECT_EQ(out[0].body_bytes, 10u);

  // A server answering an oversized head with 400 closes inside it: its start line is certain.
  Parser half(Kind::kRequest);
  half.feed("GET /half HTTP/1.1\r\nHost:", 1);
  half.close(2);
  std::vector<Message> cut = half.take_messages();
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].target, "/half");
  EXPECT_TRUE(cut[0].head_cut);
  EXPECT_FALSE(cut[0].complete);
  EXPECT_EQ(half.stats().heads_cut, 1u);
}

// --- resynchronisation ---

TEST(Http1Parser, MidstreamJoinSkipsBodyTextToTheNextRequest) {
  const std::string skipped =
      "ing the tail of an upload; note: GET /fake HTTP/1.1 appears mid-line\r\n"
      "GET me a coffee\r\n"  // at a line start, but not a request line
      "GET /x HTTP/1.1 trailing\r\n";
  const std::string stream = skipped + std::string(kBrowserGet);
  Parser parser(Kind::kRequest);
  parser.start_midstream();
  parser.feed(stream, 7);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].target, "/index.html?lang=en");
  EXPECT_EQ(out[0].stream_offset, skipped.size());
  EXPECT_TRUE(out[0].after_resync);
  EXPECT_EQ(parser.stats().resyncs, 1u);
  EXPECT_EQ(parser.stats().errors, 0u);
  EXPECT_EQ(parser.stats().skipped_bytes, skipped.size());
}

TEST(Http1Parser, MidstreamFalseCandidateWithBadFieldLineDoesNotSwallowTheRealOne) {
  // A request line inside body text, followed by a line that is no header field.
  const std::string skipped = "GET / HTTP/1.1\r\nthis is prose, not a field\r\n";
  Parser parser(Kind::kRequest);
  parser.start_midstream();
  parser.feed(skipped + std::string(kJsonPost), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].method, "POST");
  EXPECT_EQ(out[0].stream_offset, skipped.size());
  EXPECT_EQ(parser.stats().errors, 0u);
}

TEST(Http1Parser, MidstreamResponseBodyIsNotMistakenForAStatusLine) {
  const std::string skipped = "<p>HTTP/1.1 200 OK is what we sent</p>\r\n</body></html>\r\n";
  Parser parser(Kind::kResponse);
  parser.start_midstream();
  parser.feed(skipped + std::string(kNotFound), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status_code, 404);
  EXPECT_EQ(out[0].stream_offset, skipped.size());
  EXPECT_EQ(parser.stats().skipped_bytes, skipped.size());
}

TEST(Http1Parser, MidstreamMessageAtByteZeroIsTaken) {
  Parser parser(Kind::kResponse);
  parser.start_midstream();
  parser.feed(kOk, 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_offset, 0u);
  EXPECT_EQ(parser.stats().skipped_bytes, 0u);
}

TEST(Http1Parser, CandidateRejectedAtALineEndLeavesTheNextLineACandidate) {
  // "OK" is a valid method prefix until its LF: the very next byte starts a line.
  const std::string skipped = "tail of the body\nOK\n";
  Parser parser(Kind::kRequest);
  parser.start_midstream();
  parser.feed(skipped + "GET /x HTTP/1.1\n\n", 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_offset, skipped.size());
  EXPECT_EQ(parser.stats().skipped_bytes, skipped.size());
}

TEST(Http1Parser, GapDuringResyncIsNotASecondResync) {
  Parser parser(Kind::kRequest);
  parser.start_midstream();
  parser.feed("GET /partial HT", 1);  // a candidate...
  parser.gap(1000, 2);                // ...cut by a gap
  parser.feed("ail\r\n", 3);
  parser.gap(5, 4);
  parser.feed(kBrowserGet, 5);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_offset, 15u + 1000u + 5u + 5u);
  EXPECT_EQ(parser.stats().resyncs, 1u);
  EXPECT_EQ(parser.stats().skipped_bytes, 15u + 5u);
}

TEST(Http1Parser, ResyncFindsAStartLineSplitAcrossFeeds) {
  Parser parser(Kind::kRequest);
  parser.start_midstream();
  parser.feed("body bytes\r\nG", 1);
  parser.feed("ET /spl", 2);
  parser.feed("it HTTP/1.", 3);
  parser.feed("1\r\nHost: h\r\n\r\n", 4);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].target, "/split");
  EXPECT_EQ(out[0].stream_offset, 12u);
  EXPECT_EQ(out[0].first_ts, 1u);
  EXPECT_EQ(out[0].last_ts, 4u);
}

TEST(Http1Parser, GarbageIsAnErrorAndTheNextRequestIsFound) {
  // A TLS ClientHello on a port we thought was plain HTTP, then real HTTP.
  const std::string garbage = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 random\r\n"s;
  Parser parser(Kind::kRequest);
  parser.feed(garbage + std::string(kBrowserGet), 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_offset, garbage.size());
  EXPECT_TRUE(out[0].after_resync);
  EXPECT_EQ(parser.stats().errors, 1u);
  EXPECT_EQ(parser.stats().resyncs, 1u);
  EXPECT_EQ(parser.stats().skipped_bytes, garbage.size());
}

TEST(Http1Parser, HttpTwoPrefaceIsNotHttpOne) {
  Parser parser(Kind::kRequest);
  parser.feed("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1);
  EXPECT_TRUE(parser.take_messages().empty());
  EXPECT_EQ(parser.stats().errors, 1u);
}

// --- protocol switches ---

TEST(Http1Parser, SwitchingProtocolsStopsTheParser) {
  Parser parser(Kind::kResponse);
  parser.expect_response_to("GET");
  parser.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello"s, 1);
  parser.feed(kOk, 2);  // looks like HTTP, but the stream is WebSocket now
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status_code, 101);
  EXPECT_TRUE(parser.upgraded());
  EXPECT_EQ(parser.stats().errors, 0u);
  EXPECT_EQ(parser.stats().skipped_bytes, 0u);
}

TEST(Http1Parser, ConnectSuccessOpensATunnel) {
  Parser parser(Kind::kResponse);
  parser.expect_response_to("CONNECT");
  parser.feed("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x7a\x02"s, 1);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body_bytes, 0u);
  EXPECT_TRUE(parser.upgraded());
}

TEST(Http1Parser, ConnectFailureKeepsParsing) {
  Parser parser(Kind::kResponse);
  parser.expect_response_to("CONNECT");
  parser.feed("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n" +
                  std::string(kOk), 1);
  EXPECT_EQ(parser.take_messages().size(), 2u);
  EXPECT_FALSE(parser.upgraded());
}

constexpr std::string_view kWebSocketRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

TEST(Http1Parser, HeldBytesAfterAnUpgradeRequestAreReplayedOnResume) {
  Parser parser(Kind::kRequest);
  parser.hold_after_upgrade_requests(true);
  parser.feed(std::string(kWebSocketRequest) + "GET /next HTTP/1.1\r\n", 1);
  parser.gap(0, 2);
  parser.feed("\r\n", 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(parser.holding_for_upgrade());
  parser.resume();  // the server declined
  EXPECT_FALSE(parser.holding_for_upgrade());
  out = parser.take_messages();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].target, "/next");
  EXPECT_EQ(out[0].stream_offset, kWebSocketRequest.size());
  EXPECT_EQ(out[0].first_ts, 1u);
  EXPECT_EQ(out[0].last_ts, 3u);
  EXPECT_EQ(parser.position(), kWebSocketRequest.size() + 22);
}

TEST(Http1Parser, ResumeWithNothingHeldKeepsStreamOffsets) {
  Parser parser(Kind::kRequest);
  parser.hold_after_upgrade_requests(true);
  parser.feed(kWebSocketRequest, 1);
  parser.resume();  // declined before the client sent anything else
  parser.feed(kBrowserGet, 2);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].stream_offset, kWebSocketRequest.size());
}

TEST(Http1Parser, MidstreamRestartDropsHeldBytes) {
  Parser parser(Kind::kRequest);
  parser.hold_after_upgrade_requests(true);
  parser.feed(kWebSocketRequest, 1);
  parser.feed("\x81\x85\x37\xfa"s, 2);
  parser.start_midstream();  // e.g. the owner lost track of the connection
  parser.feed(kBrowserGet, 3);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].stream_offset, kWebSocketRequest.size() + 4);
  EXPECT_EQ(parser.stats().skipped_bytes, 4u);
  EXPECT_FALSE(parser.holding_for_upgrade());
}

TEST(Http1Parser, HeldBytesAreDroppedOnUpgrade) {
  Parser parser(Kind::kRequest);
  parser.hold_after_upgrade_requests(true);
  parser.feed(std::string(kWebSocketRequest) + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s, 1);
  EXPECT_EQ(parser.take_messages().size(), 1u);
  parser.upgrade();
  parser.feed(kBrowserGet, 2);
  EXPECT_TRUE(parser.take_messages().empty());
  EXPECT_TRUE(parser.upgraded());
  EXPECT_EQ(parser.stats().errors, 0u);
}

TEST(Http1Parser, AfterLostResponsesTheMethodQueueFollowsTimestamps) {
  // GET@10, HEAD@20, GET@30 sent; the answer to the first GET was lost.
  Parser parser(Kind::kResponse);
  parser.expect_response_to("GET", 10);
  parser.expect_response_to("HEAD", 20);
  parser.expect_response_to("GET", 30);
  parser.gap(300, 15);
  parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 25);  // answers HEAD
  parser.feed(kOk, 35);
  std::vector<Message> out = parser.take_messages();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body_bytes, 0u);
  EXPECT_TRUE(out[0].complete);
  EXPECT_EQ(out[1].body_bytes, 12u);
  EXPECT_EQ(parser.expected_responses(), 0u);
  EXPECT_EQ(parser.stats().errors, 0u);
}

// --- detectors ---

TEST(Http1Detect, RequestLines) {
  EXPECT_TRUE(looks_like_request_line("GET / HTTP/1.1\r\n"));
  EXPECT_TRUE(looks_like_request_line("GET / HTTP/1.1"));
  EXPECT_TRUE(looks_like_request_line("GET /a?b=c HTTP/1.0\nHost: x\n"));
  EXPECT_TRUE(looks_like_request_line("OPTIONS * HTTP/1.1\r\n"));
  EXPECT_TRUE(looks_like_request_line("CONNECT example.com:443 HTTP/1.1\r\n"));
  EXPECT_TRUE(looks_like_request_line("M-SEARCH * HTTP/1.1\r\n"));
  EXPECT_FALSE(looks_like_request_line(""));
  EXPECT_FALSE(looks_like_request_line("GET /"));
  EXPECT_FALSE(looks_like_request_line("GET  / HTTP/1.1"));
  EXPECT_FALSE(looks_like_request_line("GET / HTTP/2.0"));
  EXPECT_FALSE(looks_like_request_line("GET / HTTP/1.2"));
  EXPECT_FALSE(looks_like_request_line("GET / HTTP/1.1 x"));
  EXPECT_FALSE(looks_like_request_line("GET / http/1.1"));
  EXPECT_FALSE(looks_like_request_line("GET me a coffee"));
  EXPECT_FALSE(looks_like_request_line("HTTP/1.1 200 OK"));
  EXPECT_FALSE(looks_like_request_line("G(T / HTTP/1.1"));
  EXPECT_FALSE(looks_like_request_line("GET / HTTP/1.1\rX"));
  EXPECT_FALSE(looks_like_request_line(std::string(40, 'A') + " / HTTP/1.1"));
}

TEST(Http1Detect, StatusLines) {
  EXPECT_TRUE(looks_like_status_line("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(looks_like_status_line("HTTP/1.0 404 Not Found"));
  EXPECT_TRUE(looks_like_status_line("HTTP/1.1 200\r\n"));
  EXPECT_TRUE(looks_like_status_line("HTTP/1.1 200 \r\n"));
  EXPECT_TRUE(looks_like_status_line("HTTP/1.1 999 Request denied\r\n"));
  EXPECT_FALSE(looks_like_status_line("HTTP/1.1 20 OK"));
  EXPECT_FALSE(looks_like_status_line("HTTP/1.1 2000 OK"));
  EXPECT_FALSE(looks_like_status_line("HTTP/1.1 099 Low"));
  EXPECT_FALSE(looks_like_status_line("HTTP/1.2 200 OK"));
  EXPECT_FALSE(looks_like_status_line("HTTP/2 200"));
  EXPECT_FALSE(looks_like_status_line(" HTTP/1.1 200 OK"));
  EXPECT_FALSE(looks_like_status_line("GET / HTTP/1.1"));
  EXPECT_FALSE(looks_like_status_line("HTTP/1.1 200 O\x01K"));
}

TEST(Http1Detect, MatchReportsPrefixesOfTruncatedLines) {
  EXPECT_EQ(match_request_line("GET /very/long/path?with=que"), LineMatch::kPrefix);
  EXPECT_EQ(match_request_line("GET / HTTP/1.1\r\n"), LineMatch::kYes);
  EXPECT_EQ(match_request_line("GET / HTTP/1.1"), LineMatch::kPrefix);
  EXPECT_EQ(match_request_line("\x16\x03\x01"), LineMatch::kNo);
  EXPECT_EQ(match_request_line(""), LineMatch::kNo);
  EXPECT_EQ(match_status_line("HTTP/1."), LineMatch::kPrefix);
  EXPECT_EQ(match_status_line("HTTP/1.1 503 Service Unavailable\r\n"), LineMatch::kYes);
  EXPECT_EQ(match_status_line("HTTPS"), LineMatch::kNo);
}

}  // namespace
}  // namespace spanwire::http1

namespace spanwire::http1 {
namespace {

TEST(Http1ListContains, CommaSeparatedTokensCaseInsensitive) {
  EXPECT_TRUE(list_contains("h2c", "h2c"));
  EXPECT_TRUE(list_contains("websocket, H2C", "h2c"));
  EXPECT_TRUE(list_contains(" foo ,\th2c\t", "h2c"));
  EXPECT_FALSE(list_contains("h2", "h2c"));
  EXPECT_FALSE(list_contains("h2c-14x, websocket", "h2c"));
  EXPECT_FALSE(list_contains("", "h2c"));
}

}  // namespace
}  // namespace spanwire::http1
