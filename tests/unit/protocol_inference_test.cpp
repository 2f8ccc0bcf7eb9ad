// The kernel's protocol inference (protocols/<p>/infer.h, pure C), compiled
// here as it is into the BPF object, judged on canned first bytes.
#include <gtest/gtest.h>

#include <string_view>

#include "support/infer_input.h"

namespace {

using Input = spanwire::testing::InferInput;

int http1(std::string_view bytes) {
  Input input(bytes);
  return sw_infer_http1(&input.in);
}
int http2(std::string_view bytes, bool first = true, bool midstream = false) {
  Input input(bytes, first, midstream);
  return sw_infer_http2(&input.in);
}

TEST(ProtocolInference, Http1RequestsAndResponses) {
  for (std::string_view m : {"GET / HTTP/1.1", "POST /x", "PUT /", "HEAD /", "DELETE /a", "PATCH /",
                             "OPTIONS * HTTP/1.1", "CONNECT h:443 HTTP/1.1", "TRACE /"})
    EXPECT_EQ(http1(m), SW_INFER_REQUEST) << m;
  EXPECT_EQ(http1("HTTP/1.1 200 OK\r\n"), SW_INFER_RESPONSE);
  EXPECT_EQ(http1("HTTP/1.0 404 Not Found\r\n"), SW_INFER_RESPONSE);
  EXPECT_EQ(http1("GETX / HTTP/1.1"), SW_INFER_NO);
  EXPECT_EQ(http1("get / HTTP/1.1"), SW_INFER_NO);  // methods are case-sensitive
  EXPECT_EQ(http1("\x16\x03\x01\x02\x00\x01\x00\x01"), SW_INFER_NO);  // a TLS ClientHello
  EXPECT_EQ(http1("*1\r\n$4\r\nPING\r\n"), SW_INFER_NO);  // Redis
}

// A first write or read shorter than a method: the kernel holds the bytes
// and asks again with the next call's.
TEST(ProtocolInference, ShortStartsAskForMore) {
  for (std::string_view s : {"G", "GE", "GET", "P", "POS", "POST", "HTTP/1", "H", "OPTION", "CONNECT"})
    EXPECT_EQ(http1(s), SW_INFER_MORE) << s;
  for (std::string_view s : {"X", "GX", "get", "\x16\x03", "HTTP/2"})
    EXPECT_EQ(http1(s), SW_INFER_NO) << s;
  EXPECT_EQ(http1("GET "), SW_INFER_REQUEST);  // four bytes are enough for GET
  EXPECT_EQ(http2("PRI * "), SW_INFER_MORE);
  EXPECT_EQ(http2("PRX"), SW_INFER_NO);
}

TEST(ProtocolInference, Http2Prefaces) {
  EXPECT_EQ(http2(std::string_view("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24)), SW_INFER_REQUEST);
  // The server's SETTINGS frame: 6 bytes of payload, type 4, no flags, stream 0.
  const std::string_view settings("\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64", 15);
  EXPECT_EQ(http2(settings), SW_INFER_RESPONSE);
  EXPECT_EQ(http2(settings, /*first=*/false), SW_INFER_NO);  // only as a connection's first bytes
  EXPECT_EQ(http2(std::string_view("\x00\x00\x05\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00", 14)), SW_INFER_NO);
}

TEST(ProtocolInference, Http2HeadersFrameJoinedMidway) {
  // HEADERS on stream 1, END_HEADERS; block: :method GET (static index 2), :path / (4).
  const std::string_view request("\x00\x00\x02\x01\x04\x00\x00\x00\x01\x82\x84", 11);
  EXPECT_EQ(http2(request, false, /*midstream=*/true), SW_INFER_REQUEST);
  // :status 200 (index 8) on stream 1.
  const std::string_view response("\x00\x00\x01\x01\x04\x00\x00\x00\x01\x88", 10);
  EXPECT_EQ(http2(response, false, true), SW_INFER_RESPONSE);
  // A warm encoder's dynamic-table references (index 62+) are stepped over.
  const std::string_view warm("\x00\x00\x03\x01\x04\x00\x00\x00\x03\xbe\xbf\x83", 12);
  EXPECT_EQ(http2(warm, false, true), SW_INFER_REQUEST);
  EXPECT_EQ(http2(request, false, /*midstream=*/false), SW_INFER_NO);  // only when joined mid-way
  const std::string_view even_stream("\x00\x00\x02\x01\x04\x00\x00\x00\x02\x82\x84", 11);
  EXPECT_EQ(http2(even_stream, false, true), SW_INFER_NO);  // clients open odd streams
}

}  // namespace
