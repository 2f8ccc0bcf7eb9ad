#include "span/span_assembler.h"

#include "metrics/metrics.h"

namespace spanwire {

void SpanAssembler::on_connection_open(const ConnectionInfo& conn) {
  resources_.get(conn.key.tgid, conn.comm);
}

void SpanAssembler::on_exchange(const ConnectionInfo& conn, http1::Exchange&& exchange) {
  if (!ports_.empty() && ports_.count(conn.local.port) == 0 && ports_.count(conn.remote.port) == 0) {
    metrics_.spans_filtered++;
    return;
  }
  Span span = builder_.build(conn, exchange, resources_.get(conn.key.tgid, conn.comm));
  metrics_.spans_created++;
  exporter_.export_span(std::move(span));
}

}  // namespace spanwire
