// OpenTelemetry's HTTP semantic conventions, shared by HTTP/1 and HTTP/2:
// what an HTTP exchange says, whichever version carried it, turned into a
// record's name, attributes, server authority and status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/connection_facts.h"
#include "common/exchange_record.h"
#include "common/text.h"
#include "http/url_redaction.h"

namespace spanwire::http {

struct HttpFacts {
  std::string_view method;
  std::string_view target;
  std::string_view scheme = "http";
  const std::string* authority = nullptr;  // Host or :authority
  const std::string* user_agent = nullptr;
  std::string protocol_version;            // "1.1", "2"
  std::optional<uint64_t> request_body;    // unknown when the body could not be framed
  bool answered = false;
  int status = 0;
  std::optional<uint64_t> response_body;
};

extern const Semconv kSemconv;

// Fills `record` (name, attributes, server, status, series_extra) from `facts`.
void describe(ExchangeRecord& record, const ConnectionFacts& conn, const HttpFacts& facts,
              const UrlRedaction& redaction);

// The network.protocol.* attributes and, on a server, client.address.
void add_protocol_attributes(ExchangeRecord& record, const ConnectionFacts& conn, std::string version);

// The server the request names ("example.com:8080", "[::1]:80",
// "example.com" with the scheme's `default_port`); nullopt without a host.
std::optional<ServerAuthority> parse_authority(const std::string* authority, int64_t default_port);

// The exchange ended without (the end of) an answer: a failed call whatever the kind.
void mark_unanswered(ExchangeRecord& record, std::string message);

// "GET" and the other RFC 9110 / RFC 5789 methods as they are; anything else "_OTHER".
std::string_view known_method(std::string_view method);

// Copies the trace-context fields among `headers` (HTTP/1: any case; HTTP/2: lowercase).
template <class Headers>
void copy_context(ExchangeRecord& record, const Headers& headers) {
  for (const auto& h : headers) {
    // Every carrier name starts with 't', 'b' or 'x': skip the rest cheaply.
    const char first = h.name.empty() ? '\0' : static_cast<char>(h.name[0] | 0x20);
    if (first != 't' && first != 'b' && first != 'x') continue;
    for (std::string_view name : kContextFieldNames) {
      if (!iequals(h.name, name)) continue;
      bool seen = false;  // the first field of a name wins
      for (const ContextField& f : record.context) seen = seen || f.name == name;
      if (!seen) record.context.push_back({name, h.value});
      break;
    }
  }
}

}  // namespace spanwire::http
