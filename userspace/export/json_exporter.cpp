#include "export/json_exporter.h"

#include <nlohmann/json.hpp>

namespace spanwire {

namespace {

std::string_view kind_name(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer: return "SERVER";
    case SpanKind::kClient: return "CLIENT";
    case SpanKind::kInternal: return "INTERNAL";
    case SpanKind::kUnspecified: break;
  }
  return "UNSPECIFIED";
}

std::string_view status_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kError: return "ERROR";
    case StatusCode::kUnset: break;
  }
  return "UNSET";
}

}  // namespace

nlohmann::ordered_json attributes_to_json(const std::vector<Attribute>& attributes) {
  auto out = nlohmann::ordered_json::object();
  for (const auto& a : attributes)
    std::visit([&](const auto& v) { out[a.key] = v; }, a.value);
  return out;
}

std::string to_json_line(const nlohmann::ordered_json& object) {
  return object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

nlohmann::ordered_json JsonExporter::to_json(const Span& span) {
  nlohmann::ordered_json j;
  j["trace_id"] = to_hex(span.trace_id);
  j["span_id"] = to_hex(span.span_id);
  j["parent_span_id"] = span.has_parent() ? to_hex(span.parent_span_id) : "";
  j["name"] = span.name;
  j["kind"] = kind_name(span.kind);
  j["start_time_unix_nano"] = span.start_unix_ns;
  j["end_time_unix_nano"] = span.end_unix_ns;
  j["duration_ns"] = span.end_unix_ns >= span.start_unix_ns ? span.end_unix_ns - span.start_unix_ns : 0;
  j["status"] = {{"code", status_name(span.status)}, {"message", span.status_message}};
  j["attributes"] = attributes_to_json(span.attributes);
  j["resource"] = span.resource != nullptr ? attributes_to_json(span.resource->attributes)
                                           : nlohmann::ordered_json::object();
  return j;
}

std::string JsonExporter::format_line(const Span& span) const { return to_json_line(to_json(span)); }

}  // namespace spanwire
