#include "span/span_builder.h"
#include "support/exchange_spans.h"

#include <gtest/gtest.h>

#include <linux/types.h>

#include "http1/parser.h"
#include "spanwire.h"

namespace spanwire {
namespace {

http1::Message request(std::string method, std::string target, std::vector<http1::Header> headers,
                       uint64_t first_ts, uint64_t last_ts, uint64_t body = 0) {
  http1::Message m;
  m.kind = http1::Kind::kRequest;
  m.method = std::move(method);
  m.target = std::move(target);
  m.headers = std::move(headers);
  m.first_ts = first_ts;
  m.last_ts = last_ts;
  m.body_bytes = body;
  return m;
}

http1::Message response(int status, uint64_t first_ts, uint64_t last_ts, uint64_t body) {
  http1::Message m;
  m.kind = http1::Kind::kResponse;
  m.status_code = status;
  m.first_ts = first_ts;
  m.last_ts = last_ts;
  m.body_bytes = body;
  return m;
}

http1::Exchange exchange(http1::Message req, std::optional<http1::Message> resp) {
  http1::Exchange ex;
  ex.request = std::move(req);
  ex.response = std::move(resp);
  return ex;
}

ConnectionInfo connection(Role role) {
  ConnectionInfo c;
  c.role = role;
  c.local.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  c.remote.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  if (role == Role::kServer) {
    c.local.port = 8080;
    c.remote.port = 50000;
  } else {
    c.local.port = 50000;
    c.remote.port = 8080;
  }
  return c;
}

class SpanBuilderTest : public ::testing::Test {
 protected:
  MonotonicToUnix clock;
  IdGenerator ids;
  testing::ExchangeSpans builder{clock, ids};
  std::shared_ptr<const Resource> resource = std::make_shared<Resource>();
};

TEST_F(SpanBuilderTest, ServerSpanAttributesAndTiming) {
  http1::Exchange ex = exchange(request("GET", "/users/42?x=1", {{"Host", "api.example:8080"}, {"User-Agent", "curl/7.88"}}, 1000, 1100),
                     response(200, 5000, 6000, 12));
  Span s = builder.build(connection(Role::kServer), ex, resource);
  EXPECT_EQ(s.kind, SpanKind::kServer);
  EXPECT_EQ(s.name, "GET /users/{id}");
  EXPECT_EQ(s.string_attr("http.request.method"), "GET");
  EXPECT_EQ(s.string_attr("url.path"), "/users/42");
  EXPECT_EQ(s.string_attr("url.query"), "x=1");
  EXPECT_EQ(s.string_attr("url.scheme"), "http");
  EXPECT_EQ(s.string_attr("server.address"), "api.example");
  EXPECT_EQ(s.int_attr("server.port"), 8080);
  EXPECT_EQ(s.string_attr("client.address"), "10.1.2.3");
  EXPECT_EQ(s.string_attr("network.peer.address"), "10.1.2.3");
  EXPECT_EQ(s.int_attr("network.peer.port"), 50000);
  EXPECT_EQ(s.string_attr("network.protocol.version"), "1.1");
  EXPECT_EQ(s.string_attr("user_agent.original"), "curl/7.88");
  EXPECT_EQ(s.int_attr("http.response.status_code"), 200);
  EXPECT_EQ(s.int_attr("http.response.body.size"), 12);
  EXPECT_EQ(s.find("url.full"), nullptr);  // client spans only
  EXPECT_EQ(s.status, StatusCode::kUnset);
  EXPECT_EQ(s.end_unix_ns - s.start_unix_ns, 5000u);
  EXPECT_EQ(s.start_unix_ns, clock.to_unix_ns(1000));
  EXPECT_FALSE(s.has_parent());
}

TEST_F(SpanBuilderTest, ClientSpanHasUrlFullAndErrorsOn4xx) {
  http1::Exchange ex = exchange(request("POST", "/orders", {{"host", "shop"}}, 10, 20, 300), response(404, 30, 40, 9));
  Span s = builder.build(connection(Role::kClient), ex, resource);
  EXPECT_EQ(s.kind, SpanKind::kClient);
  EXPECT_EQ(s.string_attr("url.full"), "http://shop/orders");
  EXPECT_EQ(s.string_attr("server.address"), "shop");
  EXPECT_EQ(s.int_attr("server.port"), 80);
  EXPECT_EQ(s.int_attr("http.request.body.size"), 300);
  EXPECT_EQ(s.status, StatusCode::kError);
  EXPECT_EQ(s.string_attr("error.type"), "404");
  EXPECT_EQ(s.find("client.address"), nullptr);
}

TEST_F(SpanBuilderTest, UnframedMessagesKeepTheirStartLineAndAreFlagged) {
  http1::Message req = request("POST", "/upload", {{"Host", "x"}}, 10, 20);
  req.framing_invalid = true;  // e.g. Content-Length: -1
  http1::Message resp = response(200, 30, 40, 0);
  resp.head_cut = true;  // a head over the limit: the status line is known, the body is not
  Span s = builder.build(connection(Role::kServer), exchange(req, resp), resource);
  EXPECT_EQ(s.name, "POST /upload");
  EXPECT_EQ(s.int_attr("http.response.status_code"), 200);
  EXPECT_EQ(s.status, StatusCode::kUnset);  // not a false "no response"
  ASSERT_NE(s.find("spanwire.http.request.framing_invalid"), nullptr);
  ASSERT_NE(s.find("spanwire.http.response.head_truncated"), nullptr);
  EXPECT_EQ(s.find("spanwire.http.request.head_truncated"), nullptr);
  EXPECT_EQ(s.find("http.request.body.size"), nullptr);  // unknown, not 0
  EXPECT_EQ(s.find("http.response.body.size"), nullptr);
}

TEST_F(SpanBuilderTest, TlsConnectionsAreHttps) {
  http1::Exchange ex = exchange(request("GET", "/a?b=c", {{"host", "shop"}}, 10, 20), response(200, 30, 40, 9));
  ConnectionInfo conn = connection(Role::kClient);
  conn.tls = true;
  Span c = builder.build(conn, ex, resource);
  EXPECT_EQ(c.string_attr("url.scheme"), "https");
  EXPECT_EQ(c.string_attr("url.full"), "https://shop/a?b=c");
  EXPECT_EQ(c.int_attr("server.port"), 443);
  EXPECT_EQ(c.find("url.query"), nullptr);  // inside url.full
  conn = connection(Role::kServer);
  conn.tls = true;
  Span s = builder.build(conn, ex, resource);
  EXPECT_EQ(s.string_attr("url.scheme"), "https");
  EXPECT_EQ(s.string_attr("url.query"), "b=c");
}

TEST_F(SpanBuilderTest, SecretsInUrlsAreRedacted) {
  http1::Exchange ex = exchange(
      request("GET", "/files?X-Amz-Signature=abc123&api_key=k3y&page=2", {{"host", "s3"}}, 10, 20),
      response(200, 30, 40, 0));
  Span server = builder.build(connection(Role::kServer), ex, resource);
  EXPECT_EQ(server.string_attr("url.query"), "X-Amz-Signature=REDACTED&api_key=REDACTED&page=2");
  Span client = builder.build(connection(Role::kClient), ex, resource);
  EXPECT_EQ(client.string_attr("url.full"), "http://s3/files?X-Amz-Signature=REDACTED&api_key=REDACTED&page=2");

  // An absolute-form target (a proxy request) with credentials in it.
  http1::Exchange proxied =
      exchange(request("GET", "http://user:PASS@origin/a?sig=s", {}, 10, 20), response(200, 30, 40, 0));
  Span via_proxy = builder.build(connection(Role::kClient), proxied, resource);
  EXPECT_EQ(via_proxy.string_attr("url.full"), "http://REDACTED:REDACTED@origin/a?sig=REDACTED");
  Span at_proxy = builder.build(connection(Role::kServer), proxied, resource);
  EXPECT_EQ(at_proxy.string_attr("url.path"), "/a");
  EXPECT_EQ(at_proxy.string_attr("url.query"), "sig=REDACTED");
  for (const Span* s : {&server, &client, &via_proxy, &at_proxy})
    for (const auto& a : s->attributes)
      if (const auto* text = std::get_if<std::string>(&a.value)) {
        EXPECT_EQ(text->find("PASS"), std::string::npos) << a.key;
        EXPECT_EQ(text->find("k3y"), std::string::npos) << a.key;
        EXPECT_EQ(text->find("abc123"), std::string::npos) << a.key;
      }
}

TEST_F(SpanBuilderTest, ConfiguredQueryParametersAreRedactedToo) {
  testing::ExchangeSpans custom{clock, ids, UrlRedaction({"session"})};
  http1::Exchange ex = exchange(request("GET", "/?session=abc&page=1", {}, 10, 20), response(200, 30, 40, 0));
  EXPECT_EQ(custom.build(connection(Role::kServer), ex, resource).string_attr("url.query"),
            "session=REDACTED&page=1");
}

TEST_F(SpanBuilderTest, ServerErrorsOnlyOn5xx) {
  http1::Exchange not_found = exchange(request("GET", "/x", {}, 1, 2), response(404, 3, 4, 0));
  EXPECT_EQ(builder.build(connection(Role::kServer), not_found, resource).status, StatusCode::kUnset);
  http1::Exchange failed = exchange(request("GET", "/x", {}, 1, 2), response(503, 3, 4, 0));
  Span s = builder.build(connection(Role::kServer), failed, resource);
  EXPECT_EQ(s.status, StatusCode::kError);
  EXPECT_EQ(s.string_attr("error.type"), "503");
}

TEST_F(SpanBuilderTest, NoHostHeaderUsesTheSocketAddress) {
  http1::Exchange ex = exchange(request("GET", "/", {}, 1, 2), response(200, 3, 4, 0));
  Span s = builder.build(connection(Role::kClient), ex, resource);
  EXPECT_EQ(s.string_attr("server.address"), "10.1.2.3");
  EXPECT_EQ(s.int_attr("server.port"), 8080);
  EXPECT_EQ(s.string_attr("url.full"), "http://10.1.2.3:8080/");
}

TEST_F(SpanBuilderTest, TraceparentDecidesTraceAndParentButNotSpanId) {
  http1::Exchange ex = exchange(request("GET", "/", {{"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                                          {"tracestate", "congo=t61rcWkgMzE"}}, 1, 2),
                     response(200, 3, 4, 0));
  Span s = builder.build(connection(Role::kServer), ex, resource);
  EXPECT_EQ(to_hex(s.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(s.parent_span_id), "00f067aa0ba902b7");
  EXPECT_NE(to_hex(s.span_id), "00f067aa0ba902b7");
  EXPECT_EQ(s.trace_state, "congo=t61rcWkgMzE");
  EXPECT_EQ(s.flags, 1u);
}

TEST_F(SpanBuilderTest, KernelDecidedIdsAreExportedAsTheyAre) {
  // The request at stream position 0 had its ids decided in the kernel (they
  // may be on the wire): a traceparent in it changes nothing.
  ConnectionInfo conn = connection(Role::kServer);
  DecidedContext decided;
  decided.trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  decided.span_id = {0xaa, 0, 0, 0, 0, 0, 0, 1};
  decided.parent_id = {0xbb, 0, 0, 0, 0, 0, 0, 2};
  decided.source = SW_CTX_OPTION;
  decided.flags = SW_CTX_AMBIGUOUS;
  conn.streams[0].contexts.note(0, decided);
  http1::Exchange ex = exchange(
      request("GET", "/", {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}, 1, 2),
      response(200, 3, 4, 0));
  Span s = builder.build(conn, ex, resource);
  EXPECT_EQ(s.trace_id, decided.trace_id);
  EXPECT_EQ(s.span_id, decided.span_id);
  EXPECT_EQ(s.parent_span_id, decided.parent_id);
  EXPECT_EQ(s.linkage.decided_source, SW_CTX_OPTION);
  EXPECT_TRUE(s.linkage.decided_ambiguous);
  EXPECT_FALSE(s.linkage.decided_flags_certain);
  EXPECT_EQ(s.linkage.context, ContextSource::kNone) << "a remote caller's span, not a header's sampling decision";

  decided.flags = SW_CTX_FLAGS_CERTAIN;  // the option said the caller's flag
  conn.streams[0].contexts.note(0, decided);
  s = builder.build(conn, ex, resource);
  EXPECT_TRUE(s.linkage.decided_flags_certain);
  EXPECT_FALSE(s.linkage.decided_ambiguous);
}

TEST(DecidedContexts, KeepTheLatestPerPositionAndAreBounded) {
  DecidedContexts contexts;
  DecidedContext a, b;
  a.source = SW_CTX_FRESH;
  b.source = SW_CTX_THREAD;
  contexts.note(100, a);
  contexts.note(100, b);
  ASSERT_NE(contexts.at(100), nullptr);
  EXPECT_EQ(contexts.at(100)->source, SW_CTX_THREAD);
  EXPECT_EQ(contexts.at(101), nullptr);
  for (uint64_t i = 0; i < DecidedContexts::kDecidedContextLength; ++i) contexts.note(1000 + i, a);
  EXPECT_EQ(contexts.at(100), nullptr) << "the oldest went";
  EXPECT_NE(contexts.at(1000), nullptr);
}

TEST_F(SpanBuilderTest, InvalidTraceparentStartsANewTrace) {
  http1::Exchange ex = exchange(request("GET", "/", {{"traceparent", "garbage"}}, 1, 2), response(200, 3, 4, 0));
  Span s = builder.build(connection(Role::kServer), ex, resource);
  EXPECT_FALSE(s.has_parent());
  EXPECT_NE(to_hex(s.trace_id), std::string(32, '0'));
}

TEST_F(SpanBuilderTest, UnansweredRequestIsAnError) {
  http1::Exchange ex = exchange(request("GET", "/", {}, 1, 2), std::nullopt);
  Span s = builder.build(connection(Role::kClient), ex, resource);
  EXPECT_EQ(s.status, StatusCode::kError);
  EXPECT_EQ(s.string_attr("error.type"), "no_response");
  EXPECT_EQ(s.find("http.response.status_code"), nullptr);
}

TEST_F(SpanBuilderTest, UnknownMethodIsOther) {
  http1::Exchange ex = exchange(request("PROPFIND", "/dav", {}, 1, 2), response(207, 3, 4, 0));
  Span s = builder.build(connection(Role::kServer), ex, resource);
  EXPECT_EQ(s.string_attr("http.request.method"), "_OTHER");
  EXPECT_EQ(s.string_attr("http.request.method_original"), "PROPFIND");
  EXPECT_EQ(s.name, "HTTP /dav");
}

}  // namespace
}  // namespace spanwire

namespace spanwire {
namespace {

TEST(ThreadTrail, ThreadOfAnOffset) {
  ThreadTrail trail;
  EXPECT_EQ(trail.at(0), 0u);
  trail.note(0, 7);
  trail.note(100, 7);  // same thread: no new mark
  trail.note(200, 8);
  trail.note(150, 9);  // overtook: kept in order
  EXPECT_EQ(trail.at(0), 7u);
  EXPECT_EQ(trail.at(149), 7u);
  EXPECT_EQ(trail.at(150), 9u);
  EXPECT_EQ(trail.at(5000), 8u);
}

TEST(ExchangeKey, BothEndsComputeTheSameKey) {
  ConnectionInfo client = connection(Role::kClient);
  ConnectionInfo server;
  server.role = Role::kServer;
  server.local = client.remote;
  server.remote = client.local;
  // Same TCP sequence numbers, different stream offsets (the server joined mid-way).
  client.streams[0].has_seq = true;
  client.streams[0].seq_minus_pos = 1000;
  server.streams[0].has_seq = true;
  server.streams[0].seq_minus_pos = 1000 + 400;
  auto c = exchange_key(client, 500);
  auto s = exchange_key(server, 100);
  ASSERT_TRUE(c && s);
  EXPECT_EQ(*c, *s);
  EXPECT_NE(*exchange_key(client, 501), *s);
  // TLS plaintext: offsets, only when the connection was followed from its start.
  ConnectionInfo tls = connection(Role::kClient);
  tls.tls = true;
  EXPECT_TRUE(exchange_key(tls, 10));
  EXPECT_FALSE(exchange_key(tls, 10)->by_seq);
  tls.midstream = true;
  EXPECT_FALSE(exchange_key(tls, 10));
}

// A multiplexed stream whose handler runs on its own goroutine (a Go HTTP/2
// server): the span names that goroutine, not the thread that read the bytes.
TEST(SpanBuilderStreams, AStreamsHandlerNamesTheSpansThread) {
  MonotonicToUnix clock;
  IdGenerator ids;
  SpanBuilder builder(clock, ids);
  ConnectionInfo conn = connection(Role::kServer);
  conn.streams[0].threads.note(0, SW_GOROUTINE_TOKEN | 7);  // the frame reader
  conn.streams[0].handlers.note(3, SW_GOROUTINE_TOKEN | 42);
  for (uint32_t stream : {3u, 5u, 0u}) {
    ExchangeRecord record;
    record.name = "GET /";
    record.stream = stream;
    record.request_offset = 100;
    const Span span = builder.build(conn, std::move(record), nullptr);
    EXPECT_EQ(span.linkage.tid, stream == 3 ? (SW_GOROUTINE_TOKEN | 42) : (SW_GOROUTINE_TOKEN | 7)) << stream;
  }
}

TEST(SpanBuilderStreams, StreamHandlersAreBounded) {
  StreamHandlers handlers;
  for (uint32_t s = 1; s <= StreamHandlers::kStreamHandlerLength + 10; ++s) handlers.note(s, s + 1000);
  EXPECT_EQ(handlers.at(1), 0u) << "the oldest are forgotten";
  EXPECT_EQ(handlers.at(StreamHandlers::kStreamHandlerLength + 10), StreamHandlers::kStreamHandlerLength + 1010);
  handlers.note(StreamHandlers::kStreamHandlerLength + 10, 9);
  EXPECT_EQ(handlers.at(StreamHandlers::kStreamHandlerLength + 10), 9u) << "a stream noted again is updated";
}

// Over several rounds of the ring: always exactly the latest kLength streams,
// and an update in place neither duplicates a stream nor makes it younger.
TEST(SpanBuilderStreams, StreamHandlersKeepTheLatestOverManyRounds) {
  constexpr uint32_t kLength = StreamHandlers::kStreamHandlerLength;
  StreamHandlers handlers;
  const uint32_t last = 3 * kLength + 7;
  for (uint32_t s = 1; s <= last; ++s) {
    handlers.note(s, s + 1000);
    if (s % 5 == 0) handlers.note(s, s + 2000);  // updated in place
  }
  for (uint32_t s = 1; s <= last; ++s) {
    const uint32_t expected = s + (s % 5 == 0 ? 2000 : 1000);
    EXPECT_EQ(handlers.at(s), s + kLength > last ? expected : 0u) << s;
  }
  handlers.note(last - kLength + 1, 7);  // the oldest kept, updated: still the next to go
  handlers.note(last + 1, 8);
  EXPECT_EQ(handlers.at(last - kLength + 1), 0u);
  EXPECT_EQ(handlers.at(last + 1), 8u);
  EXPECT_EQ(handlers.at(last - kLength + 2), last - kLength + 2 + ((last - kLength + 2) % 5 == 0 ? 2000 : 1000));
}

}  // namespace
}  // namespace spanwire
