#include "span/span_assembler.h"

#include "metrics/metrics.h"

namespace spanwire {

void SpanAssembler::on_connection_open(const ConnectionInfo& conn) {
  resources_.get(conn.key.tgid, conn.comm);
}

bool SpanAssembler::filtered_out(const ConnectionInfo& conn) {
  if (ports_.empty() || ports_.count(conn.local.port) != 0 || ports_.count(conn.remote.port) != 0) return false;
  metrics_.spans_filtered++;
  return true;
}

template <typename Message>
void SpanAssembler::export_one(const ConnectionInfo& conn, const Message& message) {
  if (filtered_out(conn)) return;
  auto resource = resources_.get(conn.key.tgid, conn.comm);
  if (!resource->selected) {  // --namespace, --pod-label, --container, --exe
    metrics_.spans_filtered++;
    return;
  }
  Span span = builder_.build(conn, message, std::move(resource));
  metrics_.spans_created++;
  next_.consume(std::move(span));
}

void SpanAssembler::on_exchange(const ConnectionInfo& conn, http1::Exchange&& exchange) { export_one(conn, exchange); }

void SpanAssembler::on_http2_stream(const ConnectionInfo& conn, http2::Stream&& stream) { export_one(conn, stream); }

}  // namespace spanwire
