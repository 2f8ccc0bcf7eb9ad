#include "span/span_builder.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "span/route.h"

namespace spanwire {

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
    auto digits = v.substr(colon + 1);
    auto res = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (res.ec == std::errc() && res.ptr == digits.data() + digits.size() && port > 0 && port < 65536)
      hp.port = port;
  }
  return hp;
}

void add(std::vector<Attribute>& attrs, std::string key, AttributeValue value) {
  attrs.push_back({std::move(key), std::move(value)});
}
}  // namespace

Span SpanBuilder::start_span(const ConnectionInfo& conn, std::shared_ptr<const Resource> resource,
                             const std::string* traceparent, const std::string* tracestate, uint64_t start_ts,
                             uint64_t end_ts) {
  Span span;
  span.kind = conn.role == Role::kClient ? SpanKind::kClient : SpanKind::kServer;
  span.resource = std::move(resource);
  span.span_id = ids_.span_id();
  // A valid traceparent puts this span in the caller's trace, under the
  // caller's span. Never copy its span id as ours.
  std::optional<TraceParent> tp = traceparent ? parse_traceparent(*traceparent) : std::nullopt;
  if (tp) {
    span.trace_id = tp->trace_id;
    span.parent_span_id = tp->parent_id;
    span.flags = tp->flags;
    if (tracestate) span.trace_state = *tracestate;
  } else {
    span.trace_id = ids_.trace_id();
  }
  // Client: first request byte written .. last response byte read;
  // server: first request byte read .. last response byte written.
  span.start_unix_ns = clock_.to_unix_ns(start_ts);
  span.end_unix_ns = clock_.to_unix_ns(std::max(start_ts, end_ts));
  return span;
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
  uint64_t request_body = 0;
  bool answered = false;
  int status = 0;
  uint64_t response_body = 0;
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
  if (conn.role != Role::kClient) add(a, "client.address", conn.remote.address());
  add(a, "network.peer.address", conn.remote.address());
  add(a, "network.peer.port", static_cast<int64_t>(conn.remote.port));
  add(a, "network.local.address", conn.local.address());
  add(a, "network.local.port", static_cast<int64_t>(conn.local.port));
  add(a, "network.transport", std::string("tcp"));
  add(a, "network.protocol.name", std::string("http"));
  add(a, "network.protocol.version", std::move(version));
}

void describe_http(Span& span, const ConnectionInfo& conn, const HttpFacts& f) {
  bool client = conn.role == Role::kClient;
  std::string_view method = known_method(f.method);
  std::string path(target_path(f.target));
  span.name = std::string(method == "_OTHER" ? "HTTP" : method) + " " + route_of(path);

  auto& a = span.attributes;
  add(a, "http.request.method", std::string(method));
  if (method == "_OTHER") add(a, "http.request.method_original", std::string(f.method));
  add(a, "url.path", path);
  add(a, "url.scheme", std::string(f.scheme));
  int64_t default_port = f.scheme == "https" ? 443 : 80;
  add_server_attributes(a, conn, f.authority, default_port);
  if (client) {
    std::string authority;
    if (f.authority && !f.authority->empty()) {
      authority = *f.authority;
    } else {
      authority = bracket_ipv6(conn.remote.address());
      if (conn.remote.port != default_port) authority += ":" + std::to_string(conn.remote.port);
    }
    bool absolute = f.target.rfind("http://", 0) == 0 || f.target.rfind("https://", 0) == 0;
    add(a, "url.full", absolute ? std::string(f.target)
                                : std::string(f.scheme) + "://" + authority + std::string(f.target));
  }
  add_network_attributes(a, conn, f.protocol_version);
  if (f.user_agent) add(a, "user_agent.original", *f.user_agent);
  add(a, "http.request.body.size", static_cast<int64_t>(f.request_body));
  if (f.answered) {
    add(a, "http.response.status_code", static_cast<int64_t>(f.status));
    add(a, "http.response.body.size", static_cast<int64_t>(f.response_body));
    // Servers own 5xx; for clients every 4xx/5xx is a failed call.
    if (f.status >= 500 || (client && f.status >= 400)) {
      span.status = StatusCode::kError;
      add(a, "error.type", std::to_string(f.status));
    }
  }
}
}  // namespace

Span SpanBuilder::build(const ConnectionInfo& conn, const http1::Exchange& ex,
                        std::shared_ptr<const Resource> resource) {
  const http1::Message& req = ex.request;
  const http1::Message* resp = ex.response ? &*ex.response : nullptr;
  uint64_t end = resp ? std::max(resp->last_ts, req.last_ts) : req.last_ts;
  Span span = start_span(conn, std::move(resource), req.header("traceparent"), req.header("tracestate"),
                         req.first_ts, end);
  HttpFacts f;
  f.method = req.method;
  f.target = req.target;
  f.authority = req.header("host");
  f.user_agent = req.header("user-agent");
  f.protocol_version = "1." + std::to_string(req.version_minor);
  f.request_body = req.body_bytes;
  if (resp) {
    f.answered = true;
    f.status = resp->status_code;
    f.response_body = resp->body_bytes;
  }
  describe_http(span, conn, f);
  if (!resp) {
    span.status = StatusCode::kError;
    span.status_message = "connection closed before a response";
    add(span.attributes, "error.type", std::string("no_response"));
  }
  return span;
}

}  // namespace spanwire
