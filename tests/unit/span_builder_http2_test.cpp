// HTTP/2 streams to spans: gRPC calls (status rules per side, Trailers-Only,
// message counts) and plain HTTP/2 exchanges.
#include <gtest/gtest.h>

#include <sstream>

#include "export/trace_view.h"
#include "span/span_builder.h"
#include "support/exchange_spans.h"

namespace spanwire {
namespace {

http2::StreamSide side(std::vector<http2::Header> headers, uint64_t first, uint64_t last) {
  http2::StreamSide s;
  s.headers = std::move(headers);
  s.first_ts = first;
  s.last_ts = last;
  s.end_stream = true;
  return s;
}

http2::Stream grpc_call(std::vector<http2::Header> response_headers, std::vector<http2::Header> trailers) {
  http2::Stream st;
  st.id = 7;
  st.request = side({{":method", "POST"}, {":scheme", "http"}, {":path", "/shop.Cart/AddItem"},
                     {":authority", "cart:50051"}, {"content-type", "application/grpc"}, {"te", "trailers"}},
                    100, 200);
  st.request.messages = 1;
  st.request.message_bytes = 42;
  st.response = side(std::move(response_headers), 300, 400);
  st.response.trailers = std::move(trailers);
  st.response.messages = 1;
  st.response.message_bytes = 7;
  return st;
}

ConnectionInfo connection(Role role) {
  ConnectionInfo c;
  c.role = role;
  c.local.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  c.remote.addr = c.local.addr;
  c.local.port = role == Role::kServer ? 50051 : 41000;
  c.remote.port = role == Role::kServer ? 41000 : 50051;
  return c;
}

class Http2SpanTest : public ::testing::Test {
 protected:
  MonotonicToUnix clock;
  IdGenerator ids;
  testing::ExchangeSpans builder{clock, ids};
  std::shared_ptr<const Resource> resource = std::make_shared<Resource>();
};

TEST_F(Http2SpanTest, GrpcOkCall) {
  auto st = grpc_call({{":status", "200"}, {"content-type", "application/grpc"}}, {{"grpc-status", "0"}});
  Span s = builder.build(connection(Role::kServer), st, resource);
  EXPECT_EQ(s.kind, SpanKind::kServer);
  EXPECT_EQ(s.name, "shop.Cart/AddItem");
  EXPECT_EQ(s.string_attr("rpc.system"), "grpc");
  EXPECT_EQ(s.string_attr("rpc.service"), "shop.Cart");
  EXPECT_EQ(s.string_attr("rpc.method"), "AddItem");
  EXPECT_EQ(s.int_attr("rpc.grpc.status_code"), 0);
  EXPECT_EQ(s.string_attr("server.address"), "cart");
  EXPECT_EQ(s.int_attr("server.port"), 50051);
  EXPECT_EQ(s.string_attr("network.protocol.version"), "2");
  EXPECT_EQ(s.int_attr("spanwire.rpc.request.message_bytes"), 42);
  EXPECT_EQ(s.int_attr("spanwire.rpc.response.messages"), 1);
  EXPECT_EQ(s.int_attr("spanwire.http2.stream_id"), 7);
  EXPECT_EQ(s.status, StatusCode::kUnset);
  EXPECT_EQ(s.end_unix_ns - s.start_unix_ns, 300u);
}

TEST_F(Http2SpanTest, GrpcAuthorityWithoutPortMeansTheSchemesDefault) {
  auto st = grpc_call({{":status", "200"}}, {{"grpc-status", "0"}});
  st.request.headers[3].value = "cart.example";  // :authority, no port
  ConnectionInfo tls = connection(Role::kClient);
  tls.tls = true;
  st.request.headers[1].value = "https";  // :scheme
  EXPECT_EQ(builder.build(tls, st, resource).int_attr("server.port"), 443);
  st.request.headers.erase(st.request.headers.begin() + 1);  // no :scheme: the connection decides
  EXPECT_EQ(builder.build(tls, st, resource).int_attr("server.port"), 443);
  EXPECT_EQ(builder.build(connection(Role::kClient), st, resource).int_attr("server.port"), 80);
}

TEST_F(Http2SpanTest, AStatusThatIsNotThreeDigitsIsNotReported) {
  http2::Stream st;
  st.id = 1;
  st.request = side({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a"}}, 100, 200);
  for (const char* bad : {"2OO", "20", "2000", "-200", " 200", "099"}) {
    st.response = side({{":status", bad}}, 300, 400);
    Span s = builder.build(connection(Role::kClient), st, resource);
    EXPECT_EQ(s.find("http.response.status_code"), nullptr) << bad;
    EXPECT_EQ(s.status, StatusCode::kUnset) << bad;
  }
  st.response = side({{":status", "503"}}, 300, 400);
  EXPECT_EQ(builder.build(connection(Role::kClient), st, resource).int_attr("http.response.status_code"), 503);
}

TEST_F(Http2SpanTest, NotFoundIsAClientErrorOnly) {
  auto st = grpc_call({{":status", "200"}}, {{"grpc-status", "5"}, {"grpc-message", "no%20such%20cart"}});
  Span server = builder.build(connection(Role::kServer), st, resource);
  Span client = builder.build(connection(Role::kClient), st, resource);
  EXPECT_EQ(server.status, StatusCode::kUnset);
  EXPECT_EQ(client.status, StatusCode::kError);
  EXPECT_EQ(client.status_message, "no such cart");
  EXPECT_EQ(client.string_attr("error.type"), "NOT_FOUND");
}

TEST_F(Http2SpanTest, TrailersOnlyInternalIsAServerError) {
  // Trailers-Only: grpc-status in the only response header block.
  auto st = grpc_call({{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "13"},
                       {"grpc-message", "boom"}},
                      {});
  Span server = builder.build(connection(Role::kServer), st, resource);
  EXPECT_EQ(server.int_attr("rpc.grpc.status_code"), 13);
  EXPECT_EQ(server.status, StatusCode::kError);
  EXPECT_EQ(server.status_message, "boom");
  EXPECT_EQ(server.string_attr("error.type"), "INTERNAL");
}

TEST_F(Http2SpanTest, TraceparentInMetadata) {
  auto st = grpc_call({{":status", "200"}}, {{"grpc-status", "0"}});
  st.request.headers.push_back({"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  Span s = builder.build(connection(Role::kServer), st, resource);
  EXPECT_EQ(to_hex(s.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(s.parent_span_id), "00f067aa0ba902b7");
}

TEST_F(Http2SpanTest, ResetStreamIsAnError) {
  auto st = grpc_call({{":status", "200"}}, {});
  st.response.end_stream = false;
  st.rst_error = 8;  // CANCEL
  Span s = builder.build(connection(Role::kClient), st, resource);
  EXPECT_EQ(s.status, StatusCode::kError);
  EXPECT_EQ(s.string_attr("error.type"), "CANCEL");
}

TEST_F(Http2SpanTest, PlainHttp2IsAnHttpSpan) {
  http2::Stream st;
  st.id = 1;
  st.request = side({{":method", "GET"}, {":scheme", "http"}, {":path", "/items/123?x=1"},
                     {":authority", "127.0.0.1:8080"}, {"user-agent", "nghttp2/1.52.0"}},
                    10, 10);
  st.response = side({{":status", "404"}}, 20, 30);
  st.response.data_bytes = 9;
  Span s = builder.build(connection(Role::kClient), st, resource);
  EXPECT_EQ(s.name, "GET /items/{id}");
  EXPECT_EQ(s.string_attr("url.full"), "http://127.0.0.1:8080/items/123?x=1");
  EXPECT_EQ(s.int_attr("http.response.status_code"), 404);
  EXPECT_EQ(s.int_attr("http.response.body.size"), 9);
  EXPECT_EQ(s.string_attr("network.protocol.version"), "2");
  EXPECT_EQ(s.find("rpc.system"), nullptr);
  EXPECT_EQ(s.status, StatusCode::kError);
}

TEST_F(Http2SpanTest, HeadersLostToAnUnknownHpackTableAreMarked) {
  http2::Stream st;
  st.id = 9;
  st.request = side({{":method", "GET"}}, 1, 2);
  st.request.headers_uncertain = true;
  st.response = side({{":status", "200"}}, 3, 4);
  Span s = builder.build(connection(Role::kServer), st, resource);
  EXPECT_EQ(s.find("spanwire.http2.headers_incomplete") != nullptr, true);
  EXPECT_EQ(s.string_attr("http.request.method"), "GET");
  EXPECT_EQ(s.name, "GET");               // no route invented
  EXPECT_EQ(s.find("url.path"), nullptr);  // nor a path
}

TEST_F(Http2SpanTest, TraceViewShowsGrpcCalls) {
  auto st = grpc_call({{":status", "200"}}, {{"grpc-status", "5"}});
  Span s = builder.build(connection(Role::kClient), st, resource);
  std::string line = TraceViewExporter::json_line(s);
  EXPECT_NE(line.find("\"method\":\"gRPC\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"path\":\"/shop.Cart/AddItem\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":5"), std::string::npos) << line;
}

}  // namespace
}  // namespace spanwire
