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

Span SpanBuilder::build(const ConnectionInfo& conn, const http1::Exchange& ex,
                        std::shared_ptr<const Resource> resource) {
  const http1::Message& req = ex.request;
  const http1::Message* resp = ex.response ? &*ex.response : nullptr;
  bool client = conn.role == Role::kClient;

  Span span;
  span.kind = client ? SpanKind::kClient : SpanKind::kServer;
  span.resource = std::move(resource);
  span.span_id = ids_.span_id();

  // Trace context: a valid traceparent in the request puts this span in the
  // caller's trace, under the caller's span. Never copy its span id as ours.
  const std::string* traceparent = req.header("traceparent");
  std::optional<TraceParent> tp = traceparent ? parse_traceparent(*traceparent) : std::nullopt;
  if (tp) {
    span.trace_id = tp->trace_id;
    span.parent_span_id = tp->parent_id;
    span.flags = tp->flags;
    if (const std::string* ts = req.header("tracestate")) span.trace_state = *ts;
  } else {
    span.trace_id = ids_.trace_id();
  }

  // Timing: client = first request byte written .. last response byte read;
  // server = first request byte read .. last response byte written.
  uint64_t start = req.first_ts;
  uint64_t end = resp ? std::max(resp->last_ts, req.last_ts) : req.last_ts;
  span.start_unix_ns = clock_.to_unix_ns(start);
  span.end_unix_ns = clock_.to_unix_ns(std::max(start, end));

  std::string_view method = known_method(req.method);
  std::string path(target_path(req.target));
  span.name = std::string(method == "_OTHER" ? "HTTP" : method) + " " + route_of(path);

  auto& a = span.attributes;
  add(a, "http.request.method", std::string(method));
  if (method == "_OTHER") add(a, "http.request.method_original", req.method);
  add(a, "url.path", path);
  add(a, "url.scheme", std::string("http"));

  const Endpoint& server = client ? conn.remote : conn.local;
  const std::string* host_header = req.header("host");
  HostPort host = host_header ? parse_host_header(*host_header) : HostPort{};
  std::string server_address = host.host.empty() ? server.address() : host.host;
  int64_t server_port = host.port != 0 ? host.port : (host.host.empty() ? server.port : 80);
  add(a, "server.address", server_address);
  add(a, "server.port", server_port);
  if (client) {
    std::string authority = host_header && !host_header->empty()
                                ? *host_header
                                : server_address + (server_port == 80 ? "" : ":" + std::to_string(server_port));
    std::string_view target = req.target;
    bool absolute = target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0;
    add(a, "url.full", absolute ? std::string(target) : "http://" + authority + std::string(target));
  } else {
    add(a, "client.address", conn.remote.address());
  }
  add(a, "network.peer.address", conn.remote.address());
  add(a, "network.peer.port", static_cast<int64_t>(conn.remote.port));
  add(a, "network.local.address", conn.local.address());
  add(a, "network.local.port", static_cast<int64_t>(conn.local.port));
  add(a, "network.transport", std::string("tcp"));
  add(a, "network.protocol.name", std::string("http"));
  add(a, "network.protocol.version", "1." + std::to_string(req.version_minor));
  if (const std::string* ua = req.header("user-agent")) add(a, "user_agent.original", *ua);
  add(a, "http.request.body.size", static_cast<int64_t>(req.body_bytes));

  if (resp) {
    add(a, "http.response.status_code", static_cast<int64_t>(resp->status_code));
    add(a, "http.response.body.size", static_cast<int64_t>(resp->body_bytes));
    // Servers own 5xx; for clients every 4xx/5xx is a failed call.
    bool error = resp->status_code >= 500 || (client && resp->status_code >= 400);
    if (error) {
      span.status = StatusCode::kError;
      add(a, "error.type", std::to_string(resp->status_code));
    }
  } else {
    span.status = StatusCode::kError;
    span.status_message = "connection closed before a response";
    add(a, "error.type", std::string("no_response"));
  }
  return span;
}

}  // namespace spanwire
