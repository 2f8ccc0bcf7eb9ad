// Turns the RED metrics of the traced services into an OTLP metrics export
// request: cumulative histograms and monotonic sums, one ResourceMetrics per
// service resource.
#pragma once

#include <cstdint>

#include "metrics/red_metrics.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"

namespace spanwire {

// Per resource (in the order the snapshot first names it), one "spanwire"
// ScopeMetrics with the duration histogram of each kind of request seen
// (http.server.request.duration, http.client.request.duration in s;
// rpc.server.duration, rpc.client.duration in ms, as semantic conventions
// say) and the sums spanwire.requests and spanwire.errors (attributes plus
// span.kind). Every point covers (series start, now_unix_ns].
opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest to_otlp_metrics(
    const RedMetrics::Snapshot& snapshot, uint64_t now_unix_ns);

}  // namespace spanwire
