// The span model every exporter consumes: an OpenTelemetry span, independent
// of any wire format. Built by SpanBuilder from a protocol's exchange record.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/attribute.h"
#include "common/exchange_record.h"

namespace spanwire {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// Numbering matches opentelemetry.proto.trace.v1.Span.SpanKind.
enum class SpanKind : int { kUnspecified = 0, kInternal = 1, kServer = 2, kClient = 3 };

// Attributes describing the traced process; shared by all of its spans so
// exporters can group spans per resource by pointer identity.
struct Resource {
  std::vector<Attribute> attributes;
  // Convenience copies of what the terminal and trace views print.
  uint32_t pid = 0;
  std::string service_name;
  std::string comm;
  // False when the configured process selection (namespace, pod labels,
  // container, executable) excludes the process: its spans are not reported.
  bool selected = true;
};

// Where a span's trace context came from when no other span links it.
enum class ContextSource : uint8_t { kNone, kTraceparent, kB3 };

// One request as both ends of its connection see it: the connection's tuple
// and the request's position in the client -> server stream, as a TCP sequence
// number (the same on both ends, across hosts and through NAT) or, for TLS
// plaintext, as an offset (the same on both ends of a connection seen from its start).
struct ExchangeKey {
  std::array<uint8_t, 16> client_addr{}, server_addr{};
  uint16_t client_port = 0, server_port = 0;
  bool by_seq = true;
  uint64_t position = 0;
  bool operator==(const ExchangeKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const ExchangeKey& k) {
    return H::combine(std::move(h), k.client_addr, k.server_addr, k.client_port, k.server_port, k.by_seq, k.position);
  }
};

// What the trace linker (span/trace_linker.h) knows of a span; never exported.
struct SpanLinkage {
  uint32_t tgid = 0;
  uint32_t tid = 0;  // thread that read (server) or wrote (client) the request's first byte; 0: unknown
  std::optional<ExchangeKey> key;
  uint64_t start_ns = 0, end_ns = 0;  // CLOCK_MONOTONIC
  ContextSource context = ContextSource::kNone;  // trace id and parent came from this header
  // Non-zero when the kernel decided this span's ids (enum sw_context_source):
  // they may have gone on the wire, so the linker keeps them as they are.
  uint8_t decided_source = 0;
  bool decided_ambiguous = false;  // taken from a thread serving several requests
  // The kernel knows the decided sampled flag to be the trace's own
  // (SW_CTX_FLAGS_CERTAIN): nothing else of the trace can change it.
  bool decided_flags_certain = false;
  // Set by the trace linker at release: the sampled flag of the top-most
  // header in this span's tree, so every span of a trace brings the remote
  // parent's decision to the sampler, whichever is released first.
  std::optional<bool> remote_sampled;
};

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};  // all zero: a root span
  std::string trace_state;
  uint32_t flags = 1;  // W3C trace flags; bit 0 = sampled
  std::string name;
  SpanKind kind = SpanKind::kUnspecified;
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  std::vector<Attribute> attributes;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
  std::shared_ptr<const Resource> resource;
  SpanLinkage linkage;
  // How views and RED metrics read this span (from its protocol module);
  // null for spans not made from an exchange record.
  const Semconv* semconv = nullptr;
  std::vector<Attribute> series_extra;  // RED-series attributes that are not span attributes

  bool has_parent() const;
  const AttributeValue* find(std::string_view key) const;
  // Typed lookups for views; empty/zero when absent or of another type.
  std::string string_attr(std::string_view key) const;
  int64_t int_attr(std::string_view key) const;
};

std::string to_hex(const uint8_t* bytes, size_t n);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& id) { return to_hex(id.data(), N); }

}  // namespace spanwire
