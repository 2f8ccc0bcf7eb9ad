#include "span/span_builder.h"

#include <algorithm>
#include <array>
#include <optional>

#include "grpc/grpc_wire.h"
#include "http2/frame.h"
#include "span/route.h"
#include "common/text.h"

namespace spanwire {
namespace {
constexpr size_t kAttributesPerSpan = 24;
}  // namespace

std::string_view known_method(std::string_view method) {
  static constexpr std::array<std::string_view, 9> kMethods{
      "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end() ? method : "_OTHER";
}

namespace {
struct HostPort {
  std::string host;
  int64_t port = 0;  // 0: not given
};

// Splits a Host header ("example.com:8080", "[::1]:80", "example.com").
HostPort parse_host_header(std::string_view v) {
  HostPort hp;
  if (v.empty()) return hp;
  size_t colon = std::string_view::npos;
  if (v.front() == '[') {
    size_t close = v.find(']');
    if (close == std::string_view::npos) return {std::string(v), 0};
    hp.host = std::string(v.substr(1, close - 1));
    if (close + 1 < v.size() && v[close + 1] == ':') colon = close + 1;
  } else {
    colon = v.rfind(':');
    hp.host = std::string(v.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    int port = 0;
    if (parse_whole(v.substr(colon + 1), port) && port > 0 && port < 65536) hp.port = port;
  }
  return hp;
}

void add(std::vector<Attribute>& attrs, std::string_view key, AttributeValue value) {
  attrs.push_back({key, std::move(value)});
}
}  // namespace

Span SpanBuilder::start_span(const ConnectionInfo& conn, std::shared_ptr<const Resource> resource,
                             const std::optional<InboundContext>& context, uint64_t start_ts, uint64_t end_ts,
                             uint64_t request_offset) {
  Span span;
  // Room for every attribute an HTTP or gRPC span gets: no regrowth while
  // they are added.
  span.attributes.reserve(kAttributesPerSpan);
  span.kind = conn.role == Role::kClient ? SpanKind::kClient : SpanKind::kServer;
  span.resource = std::move(resource);
  span.span_id = ids_.span_id();
  // Trace context in the request puts this span in the caller's trace, under the
  // caller's span, unless the trace linker finds more specific evidence. Never
  // copy its span id as ours.
  if (context) {
    span.trace_id = context->parent.trace_id;
    span.parent_span_id = context->parent.parent_id;
    span.flags = context->parent.flags;
    span.trace_state = context->trace_state;
    span.linkage.context = context->source;
  } else {
    span.trace_id = ids_.trace_id();
  }
  // Client: first request byte written .. last response byte read;
  // server: first request byte read .. last response byte written.
  span.start_unix_ns = clock_.to_unix_ns(start_ts);
  span.end_unix_ns = clock_.to_unix_ns(std::max(start_ts, end_ts));
  span.linkage.start_ns = start_ts;
  span.linkage.end_ns = std::max(start_ts, end_ts);
  span.linkage.tgid = conn.key.tgid;
  span.linkage.tid = conn.streams[0].threads.at(request_offset);
  span.linkage.key = exchange_key(conn, request_offset);
  return span;
}

std::optional<ExchangeKey> exchange_key(const ConnectionInfo& conn, uint64_t request_offset) {
  ExchangeKey key;
  const bool client = conn.role == Role::kClient;
  const Endpoint& c = client ? conn.local : conn.remote;
  const Endpoint& s = client ? conn.remote : conn.local;
  key.client_addr = c.addr;
  key.client_port = c.port;
  key.server_addr = s.addr;
  key.server_port = s.port;
  const StreamFacts& requests = conn.streams[0];
  if (requests.has_seq) {
    key.position = static_cast<uint32_t>(requests.seq_minus_pos + static_cast<uint32_t>(request_offset));
  } else if (conn.tls && !conn.midstream) {
    // Plaintext offsets match only when both ends were followed from the start;
    // a midstream end counts from where the sensor joined.
    key.by_seq = false;
    key.position = request_offset;
  } else {
    return std::nullopt;
  }
  return key;
}

namespace {
// What an HTTP exchange says, whichever HTTP version carried it.
struct HttpFacts {
  std::string_view method;
  std::string_view target;
  std::string_view scheme = "http";
  const std::string* authority = nullptr;  // Host or :authority
  const std::string* user_agent = nullptr;
  std::string protocol_version;            // "1.1", "2"
  std::optional<uint64_t> request_body;   // unknown when the body could not be framed
  bool answered = false;
  int status = 0;
  std::optional<uint64_t> response_body;
};

std::string bracket_ipv6(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// server.address/port from the authority the client asked for, else the socket.
void add_server_attributes(std::vector<Attribute>& a, const ConnectionInfo& conn, const std::string* authority,
                           int64_t default_port) {
  const Endpoint& server = conn.role == Role::kClient ? conn.remote : conn.local;
  HostPort host = authority ? parse_host_header(*authority) : HostPort{};
  add(a, "server.address", host.host.empty() ? server.address() : host.host);
  add(a, "server.port", host.port != 0 ? host.port : (host.host.empty() ? int64_t{server.port} : default_port));
}

void add_network_attributes(std::vector<Attribute>& a, const ConnectionInfo& conn, std::string version) {
  std::string peer = conn.remote.address();
  if (conn.role != Role::kClient) add(a, "client.address", peer);
  add(a, "network.peer.address", std::move(peer));
  add(a, "network.peer.port", static_cast<int64_t>(conn.remote.port));
  add(a, "network.local.address", conn.local.address());
  add(a, "network.local.port", static_cast<int64_t>(conn.local.port));
  add(a, "network.transport", std::string("tcp"));
  add(a, "network.protocol.name", std::string("http"));
  add(a, "network.protocol.version", std::move(version));
}

void describe_http(Span& span, const ConnectionInfo& conn, const HttpFacts& f, const UrlRedaction& redaction) {
  bool client = conn.role == Role::kClient;
  std::string_view method = known_method(f.method);
  // HTTP/2 joined mid-connection may not know the path: then the name is
  // "{METHOD}" alone and no path attribute is invented.
  bool path_known = !f.target.empty();
  std::string path(target_path(f.target));
  span.name = std::string(method == "_OTHER" ? "HTTP" : method);
  if (path_known) span.name += " " + route_of(path);

  auto& a = span.attributes;
  if (!f.method.empty()) {  // HTTP/2 joined mid-connection may not know it
    add(a, "http.request.method", std::string(method));
    if (method == "_OTHER") add(a, "http.request.method_original", std::string(f.method));
  }
  if (path_known) add(a, "url.path", path);
  if (!client) {  // a client span carries the query inside url.full
    const size_t q = f.target.find('?');
    if (q != std::string_view::npos) {
      std::string_view query = f.target.substr(q + 1);
      query = query.substr(0, query.find('#'));
      add(a, "url.query", redaction.query(query));
    }
  }
  add(a, "url.scheme", std::string(f.scheme));
  int64_t default_port = f.scheme == "https" ? 443 : 80;
  add_server_attributes(a, conn, f.authority, default_port);
  if (client && path_known) {
    std::string authority;
    if (f.authority && !f.authority->empty()) {
      authority = *f.authority;
    } else {
      authority = bracket_ipv6(conn.remote.address());
      if (conn.remote.port != default_port) authority += ":" + std::to_string(conn.remote.port);
    }
    bool absolute = f.target.rfind("http://", 0) == 0 || f.target.rfind("https://", 0) == 0;
    add(a, "url.full", redaction.full_url(absolute ? std::string(f.target)
                                                   : std::string(f.scheme) + "://" + authority + std::string(f.target)));
  }
  add_network_attributes(a, conn, f.protocol_version);
  if (f.user_agent) add(a, "user_agent.original", *f.user_agent);
  if (f.request_body) add(a, "http.request.body.size", static_cast<int64_t>(*f.request_body));
  if (f.answered && f.response_body) add(a, "http.response.body.size", static_cast<int64_t>(*f.response_body));
  if (f.answered && f.status != 0) {  // 0: a status that was not three digits is not reported
    add(a, "http.response.status_code", static_cast<int64_t>(f.status));
    // Servers own 5xx; for clients every 4xx/5xx is a failed call.
    if (f.status >= 500 || (client && f.status >= 400)) {
      span.status = StatusCode::kError;
      add(a, "error.type", std::to_string(f.status));
    }
  }
}

// Whether the body of an HTTP/1 message was delimited: not when its head was
// cut short or its Content-Length / Transfer-Encoding frame nothing.
bool framed(const http1::Message& m) { return !m.head_cut && !m.framing_invalid; }

// What is certain of such a message (its start line) is reported, and flagged.
// (Attribute keys are literals: spans keep them as views.)
void flag_unframed(Span& span, const http1::Message& m) {
  const bool request = m.kind == http1::Kind::kRequest;
  if (m.head_cut)
    add(span.attributes, request ? "spanwire.http.request.head_truncated" : "spanwire.http.response.head_truncated", true);
  if (m.framing_invalid)
    add(span.attributes, request ? "spanwire.http.request.framing_invalid" : "spanwire.http.response.framing_invalid",
        true);
}

// The exchange ended without (the end of) a response: a failed call whatever
// the kind.
void mark_unanswered(Span& span, std::string message) {
  span.status = StatusCode::kError;
  span.status_message = std::move(message);
  add(span.attributes, "error.type", std::string("no_response"));
}

// gRPC status codes that are the server's failure (OpenTelemetry RPC conventions);
// for a client every code but OK is a failed call.
bool grpc_server_error(int code) {
  using grpc_wire::StatusCode;
  switch (static_cast<StatusCode>(code)) {
    case StatusCode::kUnknown:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnimplemented:
    case StatusCode::kInternal:
    case StatusCode::kUnavailable:
    case StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

void describe_grpc(Span& span, const ConnectionInfo& conn, const http2::Stream& st) {
  bool client = conn.role == Role::kClient;
  auto& a = span.attributes;
  const std::string* path = st.request.header(":path");
  auto mp = path ? grpc_wire::parse_path(*path) : std::nullopt;
  span.name = mp ? std::string(mp->service) + "/" + std::string(mp->method) : "grpc";
  add(a, "rpc.system", std::string("grpc"));
  if (mp) {
    add(a, "rpc.service", std::string(mp->service));
    add(a, "rpc.method", std::string(mp->method));
  }
  // An :authority without a port means the scheme's default: 443 over TLS.
  const std::string* scheme = st.request.header(":scheme");
  const bool https = scheme ? *scheme == "https" : conn.tls;
  add_server_attributes(a, conn, st.request.header(":authority"), https ? 443 : 80);
  add_network_attributes(a, conn, "2");
  if (const std::string* ua = st.request.header("user-agent")) add(a, "user_agent.original", *ua);

  // grpc-status comes in the trailers, or alone in the response headers (Trailers-Only).
  const std::string* status = st.response.trailer("grpc-status");
  const std::string* message = st.response.trailer("grpc-message");
  if (!status) {
    status = st.response.header("grpc-status");
    message = st.response.header("grpc-message");
  }
  std::optional<int> code = status ? grpc_wire::parse_status(*status) : std::nullopt;
  if (code) {
    add(a, "rpc.grpc.status_code", static_cast<int64_t>(*code));
    if (client ? *code != 0 : grpc_server_error(*code)) {
      span.status = StatusCode::kError;
      const char* name = grpc_wire::status_name(*code);
      add(a, "error.type", std::string(name ? name : std::to_string(*code)));
      if (message) span.status_message = grpc_wire::decode_message(*message);
    }
  }
  add(a, "spanwire.rpc.request.messages", static_cast<int64_t>(st.request.messages));
  add(a, "spanwire.rpc.request.message_bytes", static_cast<int64_t>(st.request.message_bytes));
  add(a, "spanwire.rpc.response.messages", static_cast<int64_t>(st.response.messages));
  add(a, "spanwire.rpc.response.message_bytes", static_cast<int64_t>(st.response.message_bytes));
  if (st.request.messages_uncertain || st.response.messages_uncertain)
    add(a, "spanwire.rpc.message_counts_incomplete", true);
}

// An HTTP/2 :status: three digits (RFC 9110 section 15), else 0.
int parse_status_code(std::string_view text) {
  int code = 0;
  return text.size() == 3 && parse_whole(text, code) && code >= 100 ? code : 0;
}

std::string_view value_or(const std::string* v, std::string_view fallback) { return v ? std::string_view(*v) : fallback; }
}  // namespace

Span SpanBuilder::build(const ConnectionInfo& conn, const http2::Stream& st, std::shared_ptr<const Resource> resource) {
  const http2::StreamSide& rq = st.request;
  const http2::StreamSide& rs = st.response;
  uint64_t start = rq.first_ts != 0 ? rq.first_ts : rs.first_ts;
  auto context = read_inbound_context([&rq](std::string_view name) { return rq.header(name); });
  Span span = start_span(conn, std::move(resource), context, start, std::max(rq.last_ts, rs.last_ts),
                         rq.first_offset);
  const std::string* content_type = rq.header("content-type");
  if (!content_type) content_type = rs.header("content-type");
  if (content_type && grpc_wire::is_grpc(*content_type)) {
    describe_grpc(span, conn, st);
  } else {
    HttpFacts f;
    f.method = value_or(rq.header(":method"), "");
    f.target = value_or(rq.header(":path"), "");
    f.scheme = value_or(rq.header(":scheme"), conn.tls ? "https" : "http");
    f.authority = rq.header(":authority");
    f.user_agent = rq.header("user-agent");
    f.protocol_version = "2";
    f.request_body = rq.data_bytes;
    if (const std::string* status = rs.header(":status")) {
      f.answered = true;
      f.status = parse_status_code(*status);
      f.response_body = rs.data_bytes;
    }
    describe_http(span, conn, f, redaction_);
  }
  auto& a = span.attributes;
  add(a, "spanwire.http2.stream_id", static_cast<int64_t>(st.id));
  if (rq.headers_uncertain || rs.headers_uncertain) add(a, "spanwire.http2.headers_incomplete", true);
  // A reset or refused stream failed whatever its status said.
  if (st.rst_error || st.refused) {
    uint32_t code = st.rst_error ? *st.rst_error : st.goaway_error.value_or(0);
    span.status = StatusCode::kError;
    span.status_message = st.refused ? "stream refused by GOAWAY" : "stream reset by RST_STREAM";
    add(a, "error.type", std::string(http2::error_code_name(code)));
  } else if (!rs.end_stream && span.status != StatusCode::kError) {
    mark_unanswered(span, "connection closed before the response ended");
  }
  return span;
}

Span SpanBuilder::build(const ConnectionInfo& conn, const http1::Exchange& ex,
                        std::shared_ptr<const Resource> resource) {
  const http1::Message& req = ex.request;
  const http1::Message* resp = ex.response ? &*ex.response : nullptr;
  uint64_t end = resp ? std::max(resp->last_ts, req.last_ts) : req.last_ts;
  auto context = read_inbound_context([&req](std::string_view name) { return req.header(name); });
  Span span = start_span(conn, std::move(resource), context, req.first_ts, end, req.stream_offset);
  HttpFacts f;
  f.method = req.method;
  f.target = req.target;
  f.scheme = conn.tls ? "https" : "http";
  f.authority = req.header("host");
  f.user_agent = req.header("user-agent");
  f.protocol_version = "1." + std::to_string(req.version_minor);
  if (framed(req)) f.request_body = req.body_bytes;
  if (resp) {
    f.answered = true;
    f.status = resp->status_code;
    if (framed(*resp)) f.response_body = resp->body_bytes;
  }
  describe_http(span, conn, f, redaction_);
  flag_unframed(span, req);
  if (resp) flag_unframed(span, *resp);
  if (!resp) mark_unanswered(span, "connection closed before a response");
  return span;
}

}  // namespace spanwire
