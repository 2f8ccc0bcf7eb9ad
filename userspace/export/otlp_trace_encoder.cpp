#include "export/otlp_trace_encoder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <bit>
#include <type_traits>

#include "export/otlp_convert.h"
#include "export/utf8_repair.h"
#include "util/version.h"

namespace spanwire {
namespace {

using google::protobuf::io::CodedOutputStream;
using Wire = google::protobuf::internal::WireFormatLite;

// Field numbers of opentelemetry/proto (proto/ in this repository).
namespace field {
constexpr int kRequestResourceSpans = 1;
constexpr int kResourceSpansResource = 1, kResourceSpansScopeSpans = 2;
constexpr int kResourceAttributes = 1;
constexpr int kScopeSpansScope = 1, kScopeSpansSpans = 2;
constexpr int kScopeName = 1, kScopeVersion = 2;
constexpr int kTraceId = 1, kSpanId = 2, kTraceState = 3, kParentSpanId = 4, kName = 5, kKind = 6, kStart = 7,
              kEnd = 8, kAttributes = 9, kStatus = 15, kFlags = 16;
constexpr int kStatusMessage = 2, kStatusCode = 3;
constexpr int kKey = 1, kValue = 2;
constexpr int kStringValue = 1, kBoolValue = 2, kIntValue = 3, kDoubleValue = 4;
}  // namespace field

void put_varint(std::string& out, uint64_t v) {
  uint8_t buf[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

void put_tag(std::string& out, int number, Wire::WireType type) { put_varint(out, Wire::MakeTag(number, type)); }

void put_bytes(std::string& out, int number, std::string_view bytes) {
  put_tag(out, number, Wire::WIRETYPE_LENGTH_DELIMITED);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// A string field as the message builders set it: repaired to UTF-8; absent
// when empty (proto3 default), unless it is a member of a oneof.
void put_string(std::string& out, int number, std::string_view s, bool even_if_empty = false) {
  if (s.empty() && !even_if_empty) return;
  with_valid_utf8(s, [&](const char* p, size_t n) { put_bytes(out, number, std::string_view(p, n)); });
}

void put_fixed64(std::string& out, int number, uint64_t v) {
  put_tag(out, number, Wire::WIRETYPE_FIXED64);
  uint8_t buf[8];
  CodedOutputStream::WriteLittleEndian64ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}

void put_fixed32(std::string& out, int number, uint32_t v) {
  put_tag(out, number, Wire::WIRETYPE_FIXED32);
  uint8_t buf[4];
  CodedOutputStream::WriteLittleEndian32ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}

// AnyValue: a oneof, so its member is written even when it holds a default.
void encode_value(const AttributeValue& value, std::string& out) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          put_string(out, field::kStringValue, v, true);
        } else if constexpr (std::is_same_v<T, bool>) {
          put_tag(out, field::kBoolValue, Wire::WIRETYPE_VARINT);
          put_varint(out, v ? 1 : 0);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          put_tag(out, field::kIntValue, Wire::WIRETYPE_VARINT);
          put_varint(out, static_cast<uint64_t>(v));
        } else {
          static_assert(std::is_same_v<T, double>, "unhandled attribute type");
          put_fixed64(out, field::kDoubleValue, std::bit_cast<uint64_t>(v));
        }
      },
      value);
}

}  // namespace

const std::string& OtlpTraceEncoder::encode(const std::vector<Span>& spans) {
  // KeyValue{key, value: AnyValue}, appended to `out` as field `number`.
  auto put_attributes = [this](std::string& out, int number, const std::vector<Attribute>& attributes) {
    for (const auto& a : attributes) {
      attribute_.clear();
      value_.clear();
      put_string(attribute_, field::kKey, a.key);
      encode_value(a.value, value_);
      put_bytes(attribute_, field::kValue, value_);
      put_bytes(out, number, attribute_);
    }
  };

  out_.clear();
  for (const auto& [resource, members] : group_by_resource(spans)) {
    group_.clear();
    if (resource != nullptr) {
      small_.clear();
      put_attributes(small_, field::kResourceAttributes, resource->attributes);
      put_bytes(group_, field::kResourceSpansResource, small_);
    }
    scope_.clear();
    small_.clear();
    put_string(small_, field::kScopeName, kOtlpScopeName);
    put_string(small_, field::kScopeVersion, SPANWIRE_VERSION);
    put_bytes(scope_, field::kScopeSpansScope, small_);
    for (const Span* s : members) {
      span_.clear();
      put_bytes(span_, field::kTraceId, std::string_view(reinterpret_cast<const char*>(s->trace_id.data()), 16));
      put_bytes(span_, field::kSpanId, std::string_view(reinterpret_cast<const char*>(s->span_id.data()), 8));
      put_string(span_, field::kTraceState, s->trace_state);
      if (s->has_parent())
        put_bytes(span_, field::kParentSpanId,
                  std::string_view(reinterpret_cast<const char*>(s->parent_span_id.data()), 8));
      put_string(span_, field::kName, s->name);
      if (s->kind != SpanKind::kUnspecified) {
        put_tag(span_, field::kKind, Wire::WIRETYPE_VARINT);
        put_varint(span_, static_cast<uint64_t>(s->kind));
      }
      if (s->start_unix_ns != 0) put_fixed64(span_, field::kStart, s->start_unix_ns);
      if (s->end_unix_ns != 0) put_fixed64(span_, field::kEnd, s->end_unix_ns);
      put_attributes(span_, field::kAttributes, s->attributes);
      small_.clear();  // the Status message, always present (set_code/set_message)
      put_string(small_, field::kStatusMessage, s->status_message);
      if (s->status != StatusCode::kUnset) {
        put_tag(small_, field::kStatusCode, Wire::WIRETYPE_VARINT);
        put_varint(small_, static_cast<uint64_t>(s->status));
      }
      put_bytes(span_, field::kStatus, small_);
      if (s->flags != 0) put_fixed32(span_, field::kFlags, s->flags);
      put_bytes(scope_, field::kScopeSpansSpans, span_);
    }
    put_bytes(group_, field::kResourceSpansScopeSpans, scope_);
    put_bytes(out_, field::kRequestResourceSpans, group_);
  }
  return out_;
}

}  // namespace spanwire
