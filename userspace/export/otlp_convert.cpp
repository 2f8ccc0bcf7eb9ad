#include "export/otlp_convert.h"

#include <cstring>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#ifndef SPANWIRE_VERSION
#define SPANWIRE_VERSION "dev"
#endif

namespace spanwire {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

// Length of the well-formed UTF-8 sequence starting at s[i], 0 if there is
// none (stray continuation byte, truncation, overlong form, surrogate, or
// beyond U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t code_point = 0;
  uint32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (b & 0x3F);
  }
  if (code_point < smallest || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return 0;
  return length;
}

// Captured traffic can hold any bytes, but proto3 string fields must be
// UTF-8: collectors refuse the whole request otherwise. Each bad byte
// becomes U+FFFD. Valid text, nearly all of it, is passed on without a copy.
template <class Setter>
void set_valid_utf8(std::string_view s, Setter set) {
  size_t first_bad = 0;
  // ASCII, nearly all captured text, eight bytes per step.
  for (uint64_t word = 0; first_bad + sizeof(word) <= s.size(); first_bad += sizeof(word)) {
    std::memcpy(&word, s.data() + first_bad, sizeof(word));
    if ((word & 0x8080808080808080ULL) != 0) break;
  }
  while (first_bad < s.size()) {
    const size_t n = utf8_sequence_length(s, first_bad);
    if (n == 0) break;
    first_bad += n;
  }
  if (first_bad == s.size()) {
    set(s.data(), s.size());
    return;
  }
  std::string out(s.substr(0, first_bad));
  for (size_t i = first_bad; i < s.size();) {
    if (const size_t n = utf8_sequence_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  set(out.data(), out.size());
}

void set_value(const AttributeValue& value, common::AnyValue& out) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          set_valid_utf8(v, [&out](const char* p, size_t n) { out.set_string_value(p, n); });
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
  set_valid_utf8(in.trace_state, [&out](const char* p, size_t n) { out.set_trace_state(p, n); });
  // OTLP marks a root span by an empty parent id, not by zero bytes.
  if (in.has_parent()) out.set_parent_span_id(in.parent_span_id.data(), in.parent_span_id.size());
  out.set_flags(in.flags);
  set_valid_utf8(in.name, [&out](const char* p, size_t n) { out.set_name(p, n); });
  // SpanKind and StatusCode share OTLP's numbering (see span.h).
  out.set_kind(static_cast<trace::Span::SpanKind>(in.kind));
  out.set_start_time_unix_nano(in.start_unix_ns);
  out.set_end_time_unix_nano(in.end_unix_ns);
  add_otlp_attributes(in.attributes, *out.mutable_attributes());
  auto* status = out.mutable_status();
  status->set_code(static_cast<trace::Status::StatusCode>(in.status));
  set_valid_utf8(in.status_message, [status](const char* p, size_t n) { status->set_message(p, n); });
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
    set_valid_utf8(a.key, [kv](const char* p, size_t n) { kv->set_key(p, n); });
    set_value(a.value, *kv->mutable_value());
  }
}

void fill_otlp_request(const std::vector<Span>& spans,
                       opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request) {
  // Repeated message fields keep their elements at stable addresses, so the
  // ScopeSpans pointers stay valid while more groups are added.
  std::unordered_map<const Resource*, trace::ScopeSpans*> group_of;
  for (const auto& span : spans) {
    const Resource* resource = span.resource.get();
    auto [it, inserted] = group_of.try_emplace(resource, nullptr);
    if (inserted) it->second = add_resource_group(resource, *request.add_resource_spans());
    fill_span(span, *it->second->add_spans());
  }
}

opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest to_otlp_request(
    const std::vector<Span>& spans) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  fill_otlp_request(spans, request);
  return request;
}

}  // namespace spanwire
