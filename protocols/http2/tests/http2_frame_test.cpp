// Unit tests for the HTTP/2 frame layer and the HPACK decoder wrapper.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include "support/hpack_deflater.h"

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http2/frame.h"
#include "http2/hpack_decoder.h"

namespace spanwire::http2 {

// Readable gtest output (inline: the same definition is in other test files).
inline void PrintTo(const Header& h, std::ostream* os) { *os << h.name << ": " << h.value; }

namespace {

using spanwire::testing::Fields;

// HPACK encoder for test input (nghttp2's deflater).
using Deflater = spanwire::testing::HpackDeflater;

std::vector<Header> to_headers(const Fields& fields) {
  std::vector<Header> out;
  for (const auto& [n, v] : fields) out.push_back({n, v});
  return out;
}

TEST(Http2Frame, DecodesAndEncodesHeader) {
  const std::string bytes("\x00\x40\x01\x01\x05\x80\x00\x00\x07", 9);
  FrameHeader h;
  ASSERT_TRUE(decode_frame_header(bytes, h));
  EXPECT_EQ(h.length, 0x4001u);
  EXPECT_EQ(h.type, 0x1);
  EXPECT_EQ(h.flags, flags::kEndStream | flags::kEndHeaders);
  EXPECT_EQ(h.stream_id, 7u);
  EXPECT_TRUE(h.reserved);
  std::string again;
  append_frame_header(again, h);
  EXPECT_EQ(again, bytes);
  EXPECT_FALSE(decode_frame_header(bytes.substr(0, 8), h));
}

TEST(Http2Frame, NamesOfTypesAndErrorCodes) {
  const char* types[] = {"DATA",     "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
                         "PUSH_PROMISE", "PING", "GOAWAY",  "WINDOW_UPDATE", "CONTINUATION"};
  for (uint8_t t = 0; t <= 9; ++t) EXPECT_STREQ(frame_type_name(t), types[t]);
  EXPECT_STREQ(frame_type_name(0x10), "UNKNOWN");
  EXPECT_STREQ(error_code_name(0x0), "NO_ERROR");
  EXPECT_STREQ(error_code_name(0x7), "REFUSED_STREAM");
  EXPECT_STREQ(error_code_name(0x8), "CANCEL");
  EXPECT_STREQ(error_code_name(0xd), "HTTP_1_1_REQUIRED");
  EXPECT_STREQ(error_code_name(0xe), "UNKNOWN_ERROR");
}

FrameHeader hdr(uint8_t type, uint32_t length, uint32_t stream, uint8_t f = 0) {
  FrameHeader h;
  h.type = type;
  h.length = length;
  h.stream_id = stream;
  h.flags = f;
  return h;
}

TEST(Http2Frame, ChecksEveryFrameType) {
  constexpr uint32_t kMax = kDefaultMaxFrameSize;
  // DATA
  EXPECT_EQ(check_frame_header(hdr(0, 100, 1), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(0, 100, 0), kMax, false), FrameCheck::kBadStreamId);
  EXPECT_EQ(check_frame_header(hdr(0, 16385, 1), kMax, false), FrameCheck::kTooLong);
  EXPECT_EQ(check_frame_header(hdr(0, 0, 1, flags::kPadded), kMax, false), FrameCheck::kBadLength);
  // HEADERS
  EXPECT_EQ(check_frame_header(hdr(1, 5, 1, flags::kPriority), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(1, 5, 1, flags::kPriority | flags::kPadded), kMax, false),
            FrameCheck::kBadLength);
  EXPECT_EQ(check_frame_header(hdr(1, 5, 0), kMax, false), FrameCheck::kBadStreamId);
  // PRIORITY
  EXPECT_EQ(check_frame_header(hdr(2, 5, 3), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(2, 4, 3), kMax, false), FrameCheck::kBadLength);
  // RST_STREAM
  EXPECT_EQ(check_frame_header(hdr(3, 4, 3), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(3, 8, 3), kMax, false), FrameCheck::kBadLength);
  EXPECT_EQ(check_frame_header(hdr(3, 4, 0), kMax, false), FrameCheck::kBadStreamId);
  // SETTINGS
  EXPECT_EQ(check_frame_header(hdr(4, 18, 0), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(4, 7, 0), kMax, false), FrameCheck::kBadLength);
  EXPECT_EQ(check_frame_header(hdr(4, 6, 0, flags::kAck), kMax, false), FrameCheck::kBadLength);
  EXPECT_EQ(check_frame_header(hdr(4, 6, 1), kMax, false), FrameCheck::kBadStreamId);
  // PUSH_PROMISE
  EXPECT_EQ(check_frame_header(hdr(5, 4, 1), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(5, 4, 1, flags::kPadded), kMax, false), FrameCheck::kBadLength);
  // PING
  EXPECT_EQ(check_frame_header(hdr(6, 8, 0), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(6, 8, 1), kMax, false), FrameCheck::kBadStreamId);
  EXPECT_EQ(check_frame_header(hdr(6, 9, 0), kMax, false), FrameCheck::kBadLength);
  // GOAWAY
  EXPECT_EQ(check_frame_header(hdr(7, 8, 0), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(7, 7, 0), kMax, false), FrameCheck::kBadLength);
  // WINDOW_UPDATE (connection or stream)
  EXPECT_EQ(check_frame_header(hdr(8, 4, 0), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(8, 4, 9), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(8, 5, 9), kMax, false), FrameCheck::kBadLength);
  // CONTINUATION
  EXPECT_EQ(check_frame_header(hdr(9, 10, 1), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(9, 10, 0), kMax, false), FrameCheck::kBadStreamId);
  // Extension types: ignored in sync, rejected when judged strictly.
  EXPECT_EQ(check_frame_header(hdr(0x10, 10, 0), kMax, false), FrameCheck::kOk);
  EXPECT_EQ(check_frame_header(hdr(0x10, 10, 0), kMax, true), FrameCheck::kUnknownType);
  // Strict: undefined flags and the reserved bit.
  EXPECT_EQ(check_frame_header(hdr(8, 4, 0, 0x1), kMax, false), FrameCheck::kOk);
  EXPECT_NE(check_frame_header(hdr(8, 4, 0, 0x1), kMax, true), FrameCheck::kOk);
  FrameHeader reserved = hdr(0, 1, 1);
  reserved.reserved = true;
  EXPECT_NE(check_frame_header(reserved, kMax, true), FrameCheck::kOk);
}

TEST(Http2Frame, StripsPaddingPriorityAndPromisedId) {
  PayloadView v;
  // HEADERS, PADDED + PRIORITY: pad length 3, exclusive dependency on 5, weight 15.
  std::string p = std::string("\x03\x80\x00\x00\x05\x0f", 6) + "block" + std::string(3, '\0');
  ASSERT_TRUE(strip_payload(hdr(1, p.size(), 1, flags::kPadded | flags::kPriority), p, v));
  EXPECT_EQ(v.content, "block");
  EXPECT_EQ(v.pad_length, 3u);
  EXPECT_TRUE(v.has_priority);
  EXPECT_TRUE(v.exclusive);
  EXPECT_EQ(v.stream_dependency, 5u);
  EXPECT_EQ(v.weight, 15);
  // PUSH_PROMISE with promised stream 2.
  p = std::string("\x00\x00\x00\x02", 4) + "frag";
  ASSERT_TRUE(strip_payload(hdr(5, p.size(), 1, flags::kEndHeaders), p, v));
  EXPECT_EQ(v.promised_stream_id, 2u);
  EXPECT_EQ(v.content, "frag");
  // DATA padded: all padding, empty data is fine; too much padding is not.
  p = std::string("\x02\x00\x00", 3);
  ASSERT_TRUE(strip_payload(hdr(0, 3, 1, flags::kPadded), p, v));
  EXPECT_EQ(v.content, "");
  p = std::string("\x03\x00\x00", 3);
  EXPECT_FALSE(strip_payload(hdr(0, 3, 1, flags::kPadded), p, v));
  // HEADERS with PRIORITY but too short.
  EXPECT_FALSE(strip_payload(hdr(1, 3, 1, flags::kPriority), "abc", v));
  // Flags not defined for the type are ignored.
  ASSERT_TRUE(strip_payload(hdr(9, 3, 1, flags::kPadded), "abc", v));
  EXPECT_EQ(v.content, "abc");
}

TEST(HpackDecoder, DecodesBlocksWithDynamicTableAndHuffman) {
  Deflater deflater;
  HpackDecoder decoder;
  const Fields first = {{":method", "POST"}, {":scheme", "https"}, {":path", "/shop.Cart/AddItem"},
                        {":authority", "cart.internal:8443"}, {"content-type", "application/grpc"},
                        {"user-agent", "grpc-go/1.62.1"}, {"te", "trailers"}};
  for (int i = 0; i < 3; ++i) {  // the second and third blocks are mostly dynamic indices
    const std::string block = deflater.encode(first);
    DecodedBlock b = decoder.decode(block);
    EXPECT_EQ(b.fields, to_headers(first));
    EXPECT_EQ(b.omitted, 0u);
    EXPECT_TRUE(decoder.state_known());
  }
}

TEST(HpackDecoder, UnknownTableDecodesOnlyCertainFields) {
  Deflater deflater;
  const Fields first = {{":method", "GET"}, {":path", "/catalog/items?page=2"}, {"x-request-id", "a1b2c3"}};
  const std::string block1 = deflater.encode(first);
  const Fields second = {{":method", "GET"},          // static index 2
                         {":path", "/catalog/items?page=2"},  // dynamic now
                         {"x-request-id", "d4e5f6"},  // dynamic name, literal value
                         {"accept", "application/json"},  // static name, new literal value
                         {"x-new-field", "brand new"}};  // literal name and value
  const std::string block2 = deflater.encode(second);

  HpackDecoder decoder;
  decoder.set_state_unknown();
  DecodedBlock b = decoder.decode(block2);
  EXPECT_FALSE(decoder.state_known());
  // nghttp2 does not index this :path, so it is a literal again: certain too.
  const std::vector<Header> expected = {{":method", "GET"},
                                        {":path", "/catalog/items?page=2"},
                                        {"accept", "application/json"},
                                        {"x-new-field", "brand new"}};
  EXPECT_EQ(b.fields, expected);
  EXPECT_EQ(b.omitted, 1u);
  EXPECT_FALSE(b.malformed);
  (void)block1;
}

TEST(HpackDecoder, InflaterFailureSwitchesToCertainFieldsMidBlock) {
  Deflater deflater;
  deflater.encode({{"x-trace", "0af7651916cd43dd8448eb211c80319c"}});  // lost block
  const std::string block = deflater.encode({{":status", "200"},            // static
                                             {"server", "envoy"},           // literal, indexed
                                             {"x-trace", "0af7651916cd43dd8448eb211c80319c"},  // lost entry
                                             {"content-length", "12"}});
  HpackDecoder decoder;  // believes its (empty) table is the connection's
  DecodedBlock b = decoder.decode(block);
  EXPECT_TRUE(b.failed_known);
  EXPECT_FALSE(decoder.state_known());
  const std::vector<Header> expected = {{":status", "200"}, {"server", "envoy"}, {"content-length", "12"}};
  EXPECT_EQ(b.fields, expected);
  EXPECT_EQ(b.omitted, 1u);
  // Stays in certain-fields mode: "server: envoy" is now a dynamic reference.
  DecodedBlock next = decoder.decode(deflater.encode({{":status", "404"}, {"server", "envoy"}}));
  EXPECT_EQ(next.fields, (std::vector<Header>{{":status", "404"}}));
  EXPECT_EQ(next.omitted, 1u);
}

TEST(HpackDecoder, HeaderListLimitTruncates) {
  Deflater deflater;
  HpackDecoder decoder(100);
  DecodedBlock b = decoder.decode(deflater.encode({{"a", std::string(40, 'x')}, {"b", std::string(40, 'y')}}));
  ASSERT_EQ(b.fields.size(), 1u);
  EXPECT_TRUE(b.truncated);
}

TEST(HpackDecoder, MalformedBlockInCertainMode) {
  HpackDecoder decoder;
  decoder.set_state_unknown();
  DecodedBlock b = decoder.decode(std::string("\x82\x04\x7f", 3));  // :method GET, then a cut literal
  EXPECT_EQ(b.fields, (std::vector<Header>{{":method", "GET"}}));
  EXPECT_TRUE(b.malformed);
}

}  // namespace
}  // namespace spanwire::http2
