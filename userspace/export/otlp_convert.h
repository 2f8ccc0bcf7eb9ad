// Turns spanwire spans into an OTLP/gRPC export request.
#pragma once

#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "span/span.h"

namespace spanwire {

// The instrumentation scope every spanwire span is reported under.
inline constexpr const char* kOtlpScopeName = "spanwire";

// One ResourceSpans per distinct Span::resource (pointer identity, in the
// order resources are first seen), each with a single "spanwire" ScopeSpans.
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest to_otlp_request(
    const std::vector<Span>& spans);

}  // namespace spanwire
