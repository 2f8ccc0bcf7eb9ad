#include "span/span_builder.h"

#include <algorithm>

#include <linux/types.h>

#include "spanwire.h"

namespace spanwire {
namespace {

void add(std::vector<Attribute>& attrs, std::string_view key, AttributeValue value) {
  attrs.push_back({key, std::move(value)});
}

// server.address/port: the server the request named, else the socket's server end.
void add_server_attributes(std::vector<Attribute>& a, const ConnectionInfo& conn,
                           const std::optional<ServerAuthority>& named) {
  if (named) {
    add(a, "server.address", named->host);
    add(a, "server.port", named->port);
    return;
  }
  const Endpoint& server = conn.server();
  add(a, "server.address", server.address());
  add(a, "server.port", int64_t{server.port});
}

void add_network_attributes(std::vector<Attribute>& a, const ConnectionInfo& conn) {
  add(a, "network.peer.address", conn.remote.address());
  add(a, "network.peer.port", static_cast<int64_t>(conn.remote.port));
  add(a, "network.local.address", conn.local.address());
  add(a, "network.local.port", static_cast<int64_t>(conn.local.port));
  add(a, "network.transport", std::string("tcp"));
}

// The kernel's ids for this request: exported exactly, since they may have
// gone on the wire (the option carries a client span's trace and span id).
void adopt_decided(Span& span, const DecidedContext& decided) {
  span.trace_id = decided.trace_id;
  span.span_id = decided.span_id;
  span.parent_span_id = decided.parent_id;
  span.flags = decided.trace_flags;
  span.linkage.decided_source = decided.source;
  span.linkage.decided_ambiguous = (decided.flags & SW_CTX_AMBIGUOUS) != 0;
  span.linkage.decided_flags_certain = (decided.flags & SW_CTX_FLAGS_CERTAIN) != 0;
  // Only a header's context is a remote parent's sampling decision.
  if (decided.source != SW_CTX_HEADER) {
    span.linkage.context = ContextSource::kNone;
    span.trace_state.clear();
  } else if (span.linkage.context == ContextSource::kNone) {
    span.linkage.context = ContextSource::kTraceparent;
  }
}

const std::string* context_field(const ExchangeRecord& record, std::string_view name) {
  for (const ContextField& f : record.context)
    if (f.name == name) return &f.value;
  return nullptr;
}

}  // namespace

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
  const uint64_t at = requests.origin + request_offset;  // the kernel's position
  if (requests.has_seq) {
    key.position = static_cast<uint32_t>(requests.seq_minus_pos + static_cast<uint32_t>(at));
  } else if (conn.tls && !conn.midstream) {
    // Plaintext offsets match only when both ends were followed from the start;
    // a midstream end counts from where the sensor joined.
    key.by_seq = false;
    key.position = at;
  } else {
    return std::nullopt;
  }
  return key;
}

Span SpanBuilder::build(const ConnectionInfo& conn, ExchangeRecord&& record, std::shared_ptr<const Resource> resource) {
  Span span;
  span.kind = conn.role == Role::kClient ? SpanKind::kClient : SpanKind::kServer;
  span.resource = std::move(resource);
  span.span_id = ids_.span_id();
  // Trace context in the request puts this span in the caller's trace, under the
  // caller's span, unless the trace linker finds more specific evidence. Never
  // copy its span id as ours.
  std::optional<InboundContext> context;
  if (!record.context.empty()) {
    context = read_inbound_context([&record](std::string_view name) { return context_field(record, name); });
  }
  if (context) {
    span.trace_id = context->parent.trace_id;
    span.parent_span_id = context->parent.parent_id;
    span.flags = context->parent.flags;
    span.trace_state = context->trace_state;
    span.linkage.context = context->source;
  } else {
    span.trace_id = ids_.trace_id();
  }
  const uint64_t start = record.start_ts;
  const uint64_t end = std::max(record.start_ts, record.end_ts);
  span.start_unix_ns = clock_.to_unix_ns(start);
  span.end_unix_ns = clock_.to_unix_ns(end);
  span.linkage.start_ns = start;
  span.linkage.end_ns = end;
  span.linkage.tgid = conn.key.tgid;
  span.linkage.tid = conn.streams[0].threads.at(conn.streams[0].origin + record.request_offset);
  // A multiplexed stream's handler runs on its own goroutine, not the reader's.
  if (const uint32_t handler = record.stream ? conn.streams[0].handlers.at(record.stream) : 0) span.linkage.tid = handler;
  span.linkage.key = exchange_key(conn, record.request_offset);
  const StreamFacts& requests = conn.streams[0];
  if (const DecidedContext* decided = requests.contexts.at(requests.origin + record.request_offset))
    adopt_decided(span, *decided);

  span.name = std::move(record.name);
  span.attributes = std::move(record.attributes);
  add_server_attributes(span.attributes, conn, record.server);
  add_network_attributes(span.attributes, conn);
  span.status = record.status;
  span.status_message = std::move(record.status_message);
  span.semconv = record.semconv;
  span.series_extra = std::move(record.series_extra);
  return span;
}

}  // namespace spanwire
