// The kernel's HTTP/1 framing search (protocols/http1/framing.h, pure C), run
// as bpf/body_skip.bpf.h runs it: a word at a time over a copied head.
#include <linux/types.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "http1/framing.h"

namespace {

struct Framing {
  __s64 length;
  __u32 end;
};

// `head` as the first `present` bytes of a payload (all of it by default),
// followed by `after` repeated: bytes the scan may look at but must not
// decide from.
Framing scan(std::string_view head, size_t present = std::string::npos, char after = 'x') {
  std::string buf(head.substr(0, present));
  buf.resize(SW_FRAMING_SCAN_BYTES + SW_FRAMING_SLACK + 8, after);
  if (present == std::string::npos) present = head.size();
  sw_framing_scan s;
  sw_framing_start(&s, static_cast<__u32>(present));
  const auto* h = reinterpret_cast<const __u8*>(buf.data());
  for (__u32 i = 0; i < SW_FRAMING_SCAN_BYTES / 8; i++)
    if (sw_framing_word(&s, h, i)) break;
  return {s.end ? sw_framing_length(&s, h) : SW_LENGTH_NONE, s.end};
}

constexpr std::string_view kNginx =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 19:00:00 GMT\r\n"
    "Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n"
    "Last-Modified: Thu, 03 Dec 2026 18:00:00 GMT\r\nConnection: keep-alive\r\n"
    "ETag: \"6930\"\r\nAccept-Ranges: bytes\r\n\r\n";

TEST(Http1Framing, FindsTheLengthAndTheHeadsEnd) {
  Framing f = scan(std::string(kNginx) + std::string(300, 'b'));
  EXPECT_EQ(f.length, 65536);
  EXPECT_EQ(f.end, kNginx.size());
}

TEST(Http1Framing, AHeadAloneEndsAtItsBlankLine) {
  Framing f = scan(kNginx);
  EXPECT_EQ(f.length, 65536);
  EXPECT_EQ(f.end, kNginx.size());
}

TEST(Http1Framing, NamesInAnyCaseValuesWithOptionalWhitespace) {
  EXPECT_EQ(scan("POST /x HTTP/1.1\r\ncontent-LENGTH:\t 42 \r\n\r\n").length, 42);
  EXPECT_EQ(scan("HTTP/1.1 200 OK\r\nCONTENT-LENGTH:7\r\n\r\n").length, 7);
  EXPECT_EQ(scan("HTTP/1.1 200 OK\nContent-Length: 9\n\n").length, 9);  // bare line feeds
  EXPECT_EQ(scan("HTTP/1.1 200 OK\nContent-Length: 9\n\n").end, 35u);
  EXPECT_EQ(scan("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").length, 0);
}

// The fields after "HTTP/1.1 200 OK\r\n" of a head whose length the kernel
// must not use, and of heads that have none.
constexpr std::string_view kUnusable[] = {
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    "transfer-encoding: gzip, chunked\r\nContent-Length: 5\r\n",
    "Content-Length: 5\r\nContent-Length: 6\r\n",
    "Content-Length: 5, 5\r\n",
    "Content-Length: -5\r\n",
    "Content-Length: 0x10\r\n",
    "Content-Length: \r\n",
    "Content-Length: 21\r\xff\n",               // a CR that ends no line
    "Content-Length: 6\r\n a\r\n",              // folded (obs-fold): the value is "6 a"
    "Content-Length: 1234567890123456789\r\n",
    // RFC 9112 section 6.3 lets a recipient accept the same length twice; the
    // kernel leaves that to userspace and copies the body.
    "Content-Length: 5\r\nContent-Length: 5\r\n",
    // Whitespace before the colon is invalid, but the parser tolerates it and
    // frames by the field: the kernel must not trust a length beside it.
    "Content-Length : 5\r\n",
    "Content-Length : 10\r\nContent-Length: 2\r\n",
    "Content-Length: 5\r\nTransfer-Encoding\t: chunked\r\n",
};
constexpr std::string_view kNoLength[] = {
    "Content-Lengthy: 5\r\n",
    "X-Content-Length: 5\r\n",
    "Content\rLength: 5\r\n",  // '\r' | 0x20 is '-': only letters are folded to lower case
};

TEST(Http1Framing, ALengthThatDoesNotFrameTheBodyIsUnusable) {
  for (std::string_view fields : kUnusable)
    EXPECT_EQ(scan("HTTP/1.1 200 OK\r\n" + std::string(fields) + "\r\n").length, SW_LENGTH_UNUSABLE) << fields;
}

TEST(Http1Framing, OtherFieldsAreNotTheLength) {
  for (std::string_view fields : kNoLength)
    EXPECT_EQ(scan("HTTP/1.1 200 OK\r\n" + std::string(fields) + "\r\n").length, SW_LENGTH_NONE) << fields;
  // A length on the start line or in a body is not a field.
  EXPECT_EQ(scan("GET /Content-Length: 5 HTTP/1.1\r\n\r\nContent-Length: 5\r\n").length, SW_LENGTH_NONE);
}

TEST(Http1Framing, NoEndWithoutTheBlankLineInTheBytesPresent) {
  const std::string head(kNginx);
  // Cut before the blank line: the bytes after it in memory must not complete it.
  EXPECT_EQ(scan(head, head.size() - 2, '\r').end, 0u);
  EXPECT_EQ(scan(head, head.size() - 1, '\n').end, 0u);
  EXPECT_EQ(scan(head, head.size() - 4).end, 0u);
  EXPECT_EQ(scan(head, head.size()).end, head.size());
  // A length cut short is never taken: the head has no end in view either.
  EXPECT_EQ(scan("HTTP/1.1 200 OK\r\nContent-Length: 65", 34, '9').end, 0u);
}

TEST(Http1Framing, HeadsLongerThanTheScanHaveNoEnd) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Pad: " + std::string(SW_FRAMING_SCAN_BYTES, 'p') +
                     "\r\n\r\n";
  EXPECT_EQ(scan(head).end, 0u);
}

TEST(Http1Framing, StatusLines) {
  auto status = [](std::string_view line) {
    __u64 w[2] = {};
    std::memcpy(w, line.data(), std::min<size_t>(line.size(), 16));
    return sw_http1_status(w[0], w[1]);
  };
  EXPECT_EQ(status("HTTP/1.1 200 OK\r\n"), 200);
  EXPECT_EQ(status("HTTP/1.0 304 Not"), 304);
  EXPECT_EQ(status("HTTP/1.1 2x0 OK\r\n"), 0);
  EXPECT_EQ(status("HTTP/2.0 200 OK\r\n"), 0);
  EXPECT_EQ(status("GET / HTTP/1.1\r\n"), 0);
  for (int code : {100, 101, 103, 204, 304}) EXPECT_TRUE(sw_http1_status_bodiless(code)) << code;
  for (int code : {200, 201, 206, 301, 404, 500}) EXPECT_FALSE(sw_http1_status_bodiless(code)) << code;
}

TEST(Http1Framing, RequestsWhoseResponsesLengthsAreNotTrusted) {
  auto word = [](std::string_view s) {
    __u64 w = 0;
    std::memcpy(&w, s.data(), std::min<size_t>(s.size(), 8));
    return w;
  };
  EXPECT_TRUE(sw_http1_request_bends_responses(word("HEAD / HTTP/1.1")));
  EXPECT_TRUE(sw_http1_request_bends_responses(word("CONNECT h:443 HTTP/1.1")));
  EXPECT_FALSE(sw_http1_request_bends_responses(word("GET / HTTP/1.1")));
  EXPECT_FALSE(sw_http1_request_bends_responses(word("HEADER")));
}

TEST(Http1Framing, WhatAHeadSaysOfABody) {
  auto body = [](std::string_view head) {
    __u64 w[2] = {};
    std::memcpy(w, head.data(), std::min<size_t>(head.size(), 16));
    return sw_http1_head_body(w[0], w[1]);
  };
  EXPECT_EQ(body("HTTP/1.1 200 OK\r\n"), SW_HEAD_MAY_HAVE_BODY);
  EXPECT_EQ(body("HTTP/1.1 404 Not Found"), SW_HEAD_MAY_HAVE_BODY);
  EXPECT_EQ(body("HTTP/1.1 204 No Content"), SW_HEAD_NO_BODY);
  EXPECT_EQ(body("HTTP/1.1 304 Not Modified"), SW_HEAD_NO_BODY);
  EXPECT_EQ(body("HTTP/1.1 101 Switching"), SW_HEAD_ENDS_SKIPPING);
  EXPECT_EQ(body("POST /upload HTTP/1.1"), SW_HEAD_MAY_HAVE_BODY);
  EXPECT_EQ(body("PUT /x HTTP/1.1\r\n"), SW_HEAD_MAY_HAVE_BODY);
  EXPECT_EQ(body("GET / HTTP/1.1\r\n"), SW_HEAD_NO_BODY);
  EXPECT_EQ(body("HEAD / HTTP/1.1\r\n"), SW_HEAD_ENDS_SKIPPING);
  EXPECT_EQ(body("CONNECT h:443 HTTP/1.1"), SW_HEAD_ENDS_SKIPPING);
  EXPECT_EQ(body("not a head at all"), SW_HEAD_NO_BODY);
}

TEST(Http1Framing, NewlinesAreFoundExactly) {
  // The usual zero-byte trick marks a 0x0b after a '\n' too (borrow): this one may not.
  __u64 w = 0;
  std::memcpy(&w, "a\n\x0b" "bc\nde", 8);
  EXPECT_EQ(sw_newlines(w), (0x80ULL << 8) | (0x80ULL << 40));
}

}  // namespace
