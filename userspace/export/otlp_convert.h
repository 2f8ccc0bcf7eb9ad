// Turns spanwire spans into an OTLP/gRPC export request.
#pragma once

#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "span/span.h"

namespace spanwire {

// The instrumentation scope every spanwire span is reported under.
inline constexpr const char* kOtlpScopeName = "spanwire";

// Appends attributes as OTLP KeyValues; strings from captured traffic are
// repaired to valid UTF-8 (collectors refuse a whole request otherwise).
// Shared by the trace and metric converters so both encode values alike.
void add_otlp_attributes(const std::vector<Attribute>& attributes,
                         google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& out);

// One ResourceSpans per distinct Span::resource (pointer identity, in the
// order resources are first seen), each with a single "spanwire" ScopeSpans.
// The exporter sends OtlpTraceEncoder's bytes instead (no message tree);
// this is the reference those bytes are tested against, and serves views.
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest to_otlp_request(
    const std::vector<Span>& spans);

}  // namespace spanwire
