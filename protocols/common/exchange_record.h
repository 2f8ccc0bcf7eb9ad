// The one thing a protocol module hands to the span stage: a request and its
// answer, described by the module's semantic conventions. Everything that
// depends on the protocol is decided here; the span stage adds only what
// every span has (ids, trace context, network attributes, resource).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/attribute.h"

namespace spanwire {

// The duration metric an exchange counts towards (RED metrics).
enum class MetricFamily : uint8_t { kHttp = 0, kRpc = 1, kDb = 2 };
inline constexpr size_t kMetricFamilies = 3;

// One line about an exchange for the terminal and `spanwire trace` views.
struct ExchangeSummary {
  std::string operation;   // GET, gRPC, SELECT, HGETALL
  std::string target;      // the path, the RPC method, the query summary
  std::string outcome;     // "200", "grpc=5", "42P01"; empty: none
  std::optional<int64_t> status;  // the numeric status, when there is one
  std::optional<int64_t> request_bytes, response_bytes;
};

// How the records of one kind (HTTP, gRPC, a database) are read downstream:
// static, one per kind, owned by the module that fills the records.
struct Semconv {
  MetricFamily family;
  // The span attributes (by key) that make a RED series, besides error.type
  // and, for clients, server.address and server.port.
  std::span<const std::string_view> series_keys;
  ExchangeSummary (*summarize)(std::span<const Attribute> attributes);
};

// A trace-context carrier field the request brought (W3C, B3), lowercase name.
struct ContextField {
  std::string_view name;  // one of kContextFieldNames
  std::string value;
};
inline constexpr std::string_view kContextFieldNames[] = {"traceparent", "tracestate",   "b3",
                                                          "x-b3-traceid", "x-b3-spanid", "x-b3-sampled",
                                                          "x-b3-flags"};

// The server the client asked for, when the request names one (HTTP Host).
struct ServerAuthority {
  std::string host;
  int64_t port = 0;
};

// Room for a module's attributes and the seven the span stage adds (server.*,
// network.*): reserved once, no regrowth.
inline constexpr size_t kAttributesPerRecord = 28;

struct ExchangeRecord {
  const Semconv* semconv = nullptr;
  // CLOCK_MONOTONIC. Client: first request byte written .. last answer byte
  // read; server: first request byte read .. last answer byte written.
  uint64_t start_ts = 0;
  uint64_t end_ts = 0;
  // The request's first byte in the client -> server stream: with the
  // connection's TCP sequence numbers it names the request on both ends.
  uint64_t request_offset = 0;
  // The multiplexed stream it was on (HTTP/2 stream id); 0: none.
  uint32_t stream = 0;
  bool answered = true;  // false: the connection ended without (the end of) an answer
  std::vector<ContextField> context;
  std::string name;
  std::vector<Attribute> attributes;  // the module's own semantic conventions
  // server.address/port; absent: the socket's server end.
  std::optional<ServerAuthority> server;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
  // RED-series attributes that are not span attributes (HTTP: the route
  // inferred from the path, since http.route is never known).
  std::vector<Attribute> series_extra;
};

// Where a session hands its records.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void record(ExchangeRecord&& record) = 0;
};

}  // namespace spanwire
