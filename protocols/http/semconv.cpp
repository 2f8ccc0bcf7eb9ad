#include "http/semconv.h"

#include <algorithm>
#include <array>

#include "http/route.h"

namespace spanwire::http {

std::string_view known_method(std::string_view method) {
  static constexpr std::array<std::string_view, 9> kMethods{
      "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end() ? method : "_OTHER";
}

namespace {

void add(std::vector<Attribute>& attrs, std::string_view key, AttributeValue value) {
  attrs.push_back({key, std::move(value)});
}

std::string bracket_ipv6(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

ExchangeSummary summarize(std::span<const Attribute> attributes) {
  ExchangeSummary s;
  s.operation = string_attribute(attributes, "http.request.method");
  s.target = string_attribute(attributes, "url.path");
  s.status = int_attribute(attributes, "http.response.status_code");
  if (s.status) s.outcome = std::to_string(*s.status);
  s.request_bytes = int_attribute(attributes, "http.request.body.size");
  s.response_bytes = int_attribute(attributes, "http.response.body.size");
  return s;
}

// http.route, when a later stage knows it; else series_extra carries the
// route inferred from the path in its place (http/route.h).
constexpr std::string_view kSeriesKeys[] = {"http.request.method", "http.route", "http.response.status_code",
                                            "url.scheme"};

}  // namespace

const Semconv kSemconv{MetricFamily::kHttp, kSeriesKeys, summarize};

std::optional<ServerAuthority> parse_authority(const std::string* authority, int64_t default_port) {
  if (authority == nullptr || authority->empty()) return std::nullopt;
  std::string_view v = *authority;
  ServerAuthority out;
  size_t colon = std::string_view::npos;
  if (v.front() == '[') {
    const size_t close = v.find(']');
    if (close == std::string_view::npos) return ServerAuthority{std::string(v), default_port};
    out.host = std::string(v.substr(1, close - 1));
    if (close + 1 < v.size() && v[close + 1] == ':') colon = close + 1;
  } else {
    colon = v.rfind(':');
    out.host = std::string(v.substr(0, colon));
  }
  out.port = default_port;
  if (colon != std::string_view::npos) {
    int port = 0;
    if (parse_whole(v.substr(colon + 1), port) && port > 0 && port < 65536) out.port = port;
  }
  if (out.host.empty()) return std::nullopt;
  return out;
}

void add_protocol_attributes(ExchangeRecord& record, const ConnectionFacts& conn, std::string version) {
  if (!conn.client()) add(record.attributes, "client.address", conn.remote.address());
  add(record.attributes, "network.protocol.name", std::string("http"));
  add(record.attributes, "network.protocol.version", std::move(version));
}

void mark_unanswered(ExchangeRecord& record, std::string message) {
  record.answered = false;
  record.status = StatusCode::kError;
  record.status_message = std::move(message);
  add(record.attributes, "error.type", std::string("no_response"));
}

void describe(ExchangeRecord& record, const ConnectionFacts& conn, const HttpFacts& f, const UrlRedaction& redaction) {
  const bool client = conn.client();
  record.semconv = &kSemconv;
  std::string_view method = known_method(f.method);
  // HTTP/2 joined mid-connection may not know the path: then the name is
  // "{METHOD}" alone and no path attribute is invented.
  const bool path_known = !f.target.empty();
  std::string path(target_path(f.target));
  record.name = std::string(method == "_OTHER" ? "HTTP" : method);
  if (path_known) {
    std::string route = route_of(path);
    record.name += " " + route;
    record.series_extra.push_back({"http.route", std::move(route)});
  }

  auto& a = record.attributes;
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
  const int64_t default_port = f.scheme == "https" ? 443 : 80;
  record.server = parse_authority(f.authority, default_port);
  if (client && path_known) {
    std::string authority;
    if (f.authority && !f.authority->empty()) {
      authority = *f.authority;
    } else {
      authority = bracket_ipv6(conn.remote.address());
      if (conn.remote.port != default_port) authority += ":" + std::to_string(conn.remote.port);
    }
    const bool absolute = f.target.rfind("http://", 0) == 0 || f.target.rfind("https://", 0) == 0;
    add(a, "url.full", redaction.full_url(absolute ? std::string(f.target)
                                                   : std::string(f.scheme) + "://" + authority + std::string(f.target)));
  }
  add_protocol_attributes(record, conn, f.protocol_version);
  if (f.user_agent) add(a, "user_agent.original", *f.user_agent);
  if (f.request_body) add(a, "http.request.body.size", static_cast<int64_t>(*f.request_body));
  if (f.answered && f.response_body) add(a, "http.response.body.size", static_cast<int64_t>(*f.response_body));
  if (f.answered && f.status != 0) {  // 0: a status that was not three digits is not reported
    add(a, "http.response.status_code", static_cast<int64_t>(f.status));
    // Servers own 5xx; for clients every 4xx/5xx is a failed call.
    if (f.status >= 500 || (client && f.status >= 400)) {
      record.status = StatusCode::kError;
      add(a, "error.type", std::to_string(f.status));
    }
  }
}

}  // namespace spanwire::http
