// Turns spanwire spans into an OTLP/gRPC export request.
#pragma once

#include <utility>
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

// Spans grouped by Span::resource (pointer identity): resources in the order
// first seen, each with its spans in arrival order. The shape of an OTLP
// trace request, shared by to_otlp_request and OtlpTraceEncoder.
using ResourceGroups = std::vector<std::pair<const Resource*, std::vector<const Span*>>>;
ResourceGroups group_by_resource(const std::vector<Span>& spans);

// One ResourceSpans per distinct Span::resource (pointer identity, in the
// order resources are first seen), each with a single "spanwire" ScopeSpans.
// The exporter sends OtlpTraceEncoder's bytes instead (no message tree);
// this message-tree form is kept as the independent reference the encoder's
// bytes are tested against (it has no other caller).
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest to_otlp_request(
    const std::vector<Span>& spans);

}  // namespace spanwire
