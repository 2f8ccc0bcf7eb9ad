#include "export/otlp_trace_encoder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <bit>
#include <cstring>
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
  if (v < 0x80) {  // tags, small lengths and enums: most varints
    out.push_back(static_cast<char>(v));
    return;
  }
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

// A message field written in place: its length is known only once its body
// is, so `width` bytes are left for it before the body and filled after. A
// body whose length needs another width is moved (rare, with widths chosen
// for the usual sizes), so lengths stay minimal varints, as protobuf writes
// them, and no nested message is built apart and copied in.
template <class WriteBody>
void put_message(std::string& out, int number, size_t width, WriteBody write_body) {
  put_tag(out, number, Wire::WIRETYPE_LENGTH_DELIMITED);
  const size_t at = out.size();
  out.append(width, '\0');
  write_body();
  const size_t length = out.size() - at - width;
  uint8_t buf[10];
  const size_t n = static_cast<size_t>(CodedOutputStream::WriteVarint64ToArray(length, buf) - buf);
  if (n < width) out.erase(at, width - n);
  if (n > width) out.insert(at, n - width, '\0');
  std::memcpy(out.data() + at, buf, n);
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

// Widths of the length fields left before each message's body (put_message).
constexpr size_t kSmallWidth = 1;   // KeyValue, AnyValue, Status, scope: < 128 bytes
constexpr size_t kSpanWidth = 2;    // a Span, a Resource: < 16 KiB
constexpr size_t kBatchWidth = 3;   // ResourceSpans, ScopeSpans: < 2 MiB

// KeyValue{key, value: AnyValue}, each as field `number`.
void put_attributes(std::string& out, int number, const std::vector<Attribute>& attributes) {
  for (const auto& a : attributes) {
    put_message(out, number, kSmallWidth, [&] {
      put_string(out, field::kKey, a.key);
      put_message(out, field::kValue, kSmallWidth, [&] { encode_value(a.value, out); });
    });
  }
}

void put_id(std::string& out, int number, const uint8_t* id, size_t n) {
  put_bytes(out, number, std::string_view(reinterpret_cast<const char*>(id), n));
}

void put_span(std::string& out, const Span& s) {
  put_id(out, field::kTraceId, s.trace_id.data(), s.trace_id.size());
  put_id(out, field::kSpanId, s.span_id.data(), s.span_id.size());
  put_string(out, field::kTraceState, s.trace_state);
  if (s.has_parent()) put_id(out, field::kParentSpanId, s.parent_span_id.data(), s.parent_span_id.size());
  put_string(out, field::kName, s.name);
  if (s.kind != SpanKind::kUnspecified) {
    put_tag(out, field::kKind, Wire::WIRETYPE_VARINT);
    put_varint(out, static_cast<uint64_t>(s.kind));
  }
  if (s.start_unix_ns != 0) put_fixed64(out, field::kStart, s.start_unix_ns);
  if (s.end_unix_ns != 0) put_fixed64(out, field::kEnd, s.end_unix_ns);
  put_attributes(out, field::kAttributes, s.attributes);
  put_message(out, field::kStatus, kSmallWidth, [&] {  // always present (set_code/set_message)
    put_string(out, field::kStatusMessage, s.status_message);
    if (s.status != StatusCode::kUnset) {
      put_tag(out, field::kStatusCode, Wire::WIRETYPE_VARINT);
      put_varint(out, static_cast<uint64_t>(s.status));
    }
  });
  if (s.flags != 0) put_fixed32(out, field::kFlags, s.flags);
}

}  // namespace

const std::string& OtlpTraceEncoder::encode(const std::vector<Span>& spans) {
  out_.clear();
  for (const auto& [resource, members] : group_by_resource(spans)) {
    put_message(out_, field::kRequestResourceSpans, kBatchWidth, [&] {
      if (resource != nullptr) {
        put_message(out_, field::kResourceSpansResource, kSpanWidth,
                    [&] { put_attributes(out_, field::kResourceAttributes, resource->attributes); });
      }
      put_message(out_, field::kResourceSpansScopeSpans, kBatchWidth, [&] {
        put_message(out_, field::kScopeSpansScope, kSmallWidth, [&] {
          put_string(out_, field::kScopeName, kOtlpScopeName);
          put_string(out_, field::kScopeVersion, SPANWIRE_VERSION);
        });
        for (const Span* s : members) put_message(out_, field::kScopeSpansSpans, kSpanWidth, [&] { put_span(out_, *s); });
      });
    });
  }
  return out_;
}

}  // namespace spanwire
