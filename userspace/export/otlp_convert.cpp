#include "export/otlp_convert.h"

#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "export/utf8_repair.h"
#include "util/version.h"

namespace spanwire {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

void set_value(const AttributeValue& value, common::AnyValue& out) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          with_valid_utf8(v, [&out](const char* p, size_t n) { out.set_string_value(p, n); });
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out.set_int_value(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.set_bool_value(v);
        } else {
          static_assert(std::is_same_v<T, double>, "unhandled attribute type");
          out.set_double_value(v);
        }
      },
      value);
}

void fill_span(const Span& in, trace::Span& out) {
  out.set_trace_id(in.trace_id.data(), in.trace_id.size());
  out.set_span_id(in.span_id.data(), in.span_id.size());
  with_valid_utf8(in.trace_state, [&out](const char* p, size_t n) { out.set_trace_state(p, n); });
  // OTLP marks a root span by an empty parent id, not by zero bytes.
  if (in.has_parent()) out.set_parent_span_id(in.parent_span_id.data(), in.parent_span_id.size());
  out.set_flags(in.flags);
  with_valid_utf8(in.name, [&out](const char* p, size_t n) { out.set_name(p, n); });
  // SpanKind and StatusCode share OTLP's numbering (see span.h).
  out.set_kind(static_cast<trace::Span::SpanKind>(in.kind));
  out.set_start_time_unix_nano(in.start_unix_ns);
  out.set_end_time_unix_nano(in.end_unix_ns);
  add_otlp_attributes(in.attributes, *out.mutable_attributes());
  auto* status = out.mutable_status();
  status->set_code(static_cast<trace::Status::StatusCode>(in.status));
  with_valid_utf8(in.status_message, [status](const char* p, size_t n) { status->set_message(p, n); });
}

trace::ScopeSpans* add_resource_group(const Resource* resource, trace::ResourceSpans& out) {
  if (resource != nullptr) add_otlp_attributes(resource->attributes, *out.mutable_resource()->mutable_attributes());
  auto* scope_spans = out.add_scope_spans();
  scope_spans->mutable_scope()->set_name(kOtlpScopeName);
  scope_spans->mutable_scope()->set_version(SPANWIRE_VERSION);
  return scope_spans;
}

}  // namespace

void add_otlp_attributes(const std::vector<Attribute>& attributes,
                         google::protobuf::RepeatedPtrField<common::KeyValue>& out) {
  out.Reserve(out.size() + static_cast<int>(attributes.size()));
  for (const auto& a : attributes) {
    auto* kv = out.Add();
    with_valid_utf8(a.key, [kv](const char* p, size_t n) { kv->set_key(p, n); });
    set_value(a.value, *kv->mutable_value());
  }
}

ResourceGroups group_by_resource(const std::vector<Span>& spans) {
  ResourceGroups groups;
  std::unordered_map<const Resource*, size_t> group_of;
  for (const auto& span : spans) {
    auto [it, inserted] = group_of.try_emplace(span.resource.get(), groups.size());
    if (inserted) groups.push_back({span.resource.get(), {}});
    groups[it->second].second.push_back(&span);
  }
  return groups;
}

opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest to_otlp_request(
    const std::vector<Span>& spans) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  for (const auto& [resource, members] : group_by_resource(spans)) {
    trace::ScopeSpans* scope_spans = add_resource_group(resource, *request.add_resource_spans());
    for (const Span* span : members) fill_span(*span, *scope_spans->add_spans());
  }
  return request;
}

}  // namespace spanwire
