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

void SpanAssembler::on_exchange(const ConnectionInfo& conn, ExchangeRecord&& record) {
  if (filtered_out(conn)) return;
  auto resource = resources_.get(conn.key.tgid, conn.comm);
  if (!resource->selected) {  // --namespace, --pod-label, --container, --exe
    metrics_.spans_filtered++;
    return;
  }
  Span span = builder_.build(conn, std::move(record), std::move(resource));
  metrics_.spans_created++;
  next_.consume(std::move(span));
}

}  // namespace spanwire
