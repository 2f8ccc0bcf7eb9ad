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
using WireLite = google::protobuf::internal::WireFormatLite;

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

// The request being written. The buffer's size is its capacity and `end`
// where the bytes stop: each field checks for room once, then stores its
// bytes through a pointer, where std::string's appends checked and
// terminated the string at every byte (a span has ~150 varints).
class Wire {
 public:
  explicit Wire(std::string& buffer) : buffer_(buffer) {}
  ~Wire() { buffer_.resize(end_); }  // shrinking: no fill
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  size_t size() const { return end_; }
  // Room for n more bytes; the pointer to the first.
  uint8_t* room(size_t n) {
    if (end_ + n > buffer_.size()) buffer_.resize(std::max(2 * buffer_.size(), end_ + n + kGrowth));
    return reinterpret_cast<uint8_t*>(buffer_.data()) + end_;
  }
  void advance_to(const uint8_t* p) { end_ = static_cast<size_t>(p - reinterpret_cast<uint8_t*>(buffer_.data())); }
  uint8_t* at(size_t offset) { return reinterpret_cast<uint8_t*>(buffer_.data()) + offset; }
  // Moves the bytes from `offset` to the end by `delta` (a length prefix that
  // needed another width than was left for it).
  void shift(size_t offset, ptrdiff_t delta) {
    if (delta > 0) room(static_cast<size_t>(delta));
    std::memmove(at(offset + delta), at(offset), end_ - offset);
    end_ = static_cast<size_t>(static_cast<ptrdiff_t>(end_) + delta);
  }

 private:
  static constexpr size_t kGrowth = 64 * 1024;
  std::string& buffer_;
  size_t end_ = 0;
};

// The varint of v at p; the byte after it.
uint8_t* varint_at(uint8_t* p, uint64_t v) { return CodedOutputStream::WriteVarint64ToArray(v, p); }

void put_varint(Wire& out, uint64_t v) { out.advance_to(varint_at(out.room(10), v)); }

void put_tag(Wire& out, int number, WireLite::WireType type) { put_varint(out, WireLite::MakeTag(number, type)); }

void put_bytes(Wire& out, int number, std::string_view bytes) {
  uint8_t* p = out.room(bytes.size() + 15);  // tag (5) + length (10) + bytes
  p = varint_at(p, WireLite::MakeTag(number, WireLite::WIRETYPE_LENGTH_DELIMITED));
  p = varint_at(p, bytes.size());
  std::memcpy(p, bytes.data(), bytes.size());
  out.advance_to(p + bytes.size());
}

// A string field as the message builders set it: repaired to UTF-8; absent
// when empty (proto3 default), unless it is a member of a oneof.
void put_string(Wire& out, int number, std::string_view s, bool even_if_empty = false) {
  if (s.empty() && !even_if_empty) return;
  with_valid_utf8(s, [&](const char* p, size_t n) { put_bytes(out, number, std::string_view(p, n)); });
}

void put_fixed64(Wire& out, int number, uint64_t v) {
  uint8_t* p = varint_at(out.room(13), WireLite::MakeTag(number, WireLite::WIRETYPE_FIXED64));
  out.advance_to(CodedOutputStream::WriteLittleEndian64ToArray(v, p));
}

void put_fixed32(Wire& out, int number, uint32_t v) {
  uint8_t* p = varint_at(out.room(9), WireLite::MakeTag(number, WireLite::WIRETYPE_FIXED32));
  out.advance_to(CodedOutputStream::WriteLittleEndian32ToArray(v, p));
}

// A message field written in place: its length is known only once its body
// is, so `width` bytes are left for it before the body and filled after. A
// body whose length needs another width is moved (rare, with widths chosen
// for the usual sizes), so lengths stay minimal varints, as protobuf writes
// them, and no nested message is built apart and copied in.
template <class WriteBody>
void put_message(Wire& out, int number, size_t width, WriteBody write_body) {
  put_tag(out, number, WireLite::WIRETYPE_LENGTH_DELIMITED);
  out.room(width);
  const size_t at = out.size();
  out.advance_to(out.at(at + width));
  write_body();
  const size_t length = out.size() - at - width;
  uint8_t buf[10];
  const size_t n = static_cast<size_t>(varint_at(buf, length) - buf);
  if (n != width) out.shift(at + width, static_cast<ptrdiff_t>(n) - static_cast<ptrdiff_t>(width));
  std::memcpy(out.at(at), buf, n);
}

// AnyValue: a oneof, so its member is written even when it holds a default.
void encode_value(const AttributeValue& value, Wire& out) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          put_string(out, field::kStringValue, v, true);
        } else if constexpr (std::is_same_v<T, bool>) {
          put_tag(out, field::kBoolValue, WireLite::WIRETYPE_VARINT);
          put_varint(out, v ? 1 : 0);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          put_tag(out, field::kIntValue, WireLite::WIRETYPE_VARINT);
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
void put_attributes(Wire& out, int number, const std::vector<Attribute>& attributes) {
  for (const auto& a : attributes) {
    put_message(out, number, kSmallWidth, [&] {
      put_string(out, field::kKey, a.key);
      put_message(out, field::kValue, kSmallWidth, [&] { encode_value(a.value, out); });
    });
  }
}

void put_id(Wire& out, int number, const uint8_t* id, size_t n) {
  put_bytes(out, number, std::string_view(reinterpret_cast<const char*>(id), n));
}

void put_span(Wire& out, const Span& s) {
  put_id(out, field::kTraceId, s.trace_id.data(), s.trace_id.size());
  put_id(out, field::kSpanId, s.span_id.data(), s.span_id.size());
  put_string(out, field::kTraceState, s.trace_state);
  if (s.has_parent()) put_id(out, field::kParentSpanId, s.parent_span_id.data(), s.parent_span_id.size());
  put_string(out, field::kName, s.name);
  if (s.kind != SpanKind::kUnspecified) {
    put_tag(out, field::kKind, WireLite::WIRETYPE_VARINT);
    put_varint(out, static_cast<uint64_t>(s.kind));
  }
  if (s.start_unix_ns != 0) put_fixed64(out, field::kStart, s.start_unix_ns);
  if (s.end_unix_ns != 0) put_fixed64(out, field::kEnd, s.end_unix_ns);
  put_attributes(out, field::kAttributes, s.attributes);
  put_message(out, field::kStatus, kSmallWidth, [&] {  // always present (set_code/set_message)
    put_string(out, field::kStatusMessage, s.status_message);
    if (s.status != StatusCode::kUnset) {
      put_tag(out, field::kStatusCode, WireLite::WIRETYPE_VARINT);
      put_varint(out, static_cast<uint64_t>(s.status));
    }
  });
  if (s.flags != 0) put_fixed32(out, field::kFlags, s.flags);
}

void put_request(Wire& out, const std::vector<Span>& spans) {
  for (const auto& [resource, members] : group_by_resource(spans)) {
    put_message(out, field::kRequestResourceSpans, kBatchWidth, [&] {
      if (resource != nullptr) {
        put_message(out, field::kResourceSpansResource, kSpanWidth,
                    [&] { put_attributes(out, field::kResourceAttributes, resource->attributes); });
      }
      put_message(out, field::kResourceSpansScopeSpans, kBatchWidth, [&] {
        put_message(out, field::kScopeSpansScope, kSmallWidth, [&] {
          put_string(out, field::kScopeName, kOtlpScopeName);
          put_string(out, field::kScopeVersion, SPANWIRE_VERSION);
        });
        for (const Span* s : members) put_message(out, field::kScopeSpansSpans, kSpanWidth, [&] { put_span(out, *s); });
      });
    });
  }
}

}  // namespace

const std::string& OtlpTraceEncoder::encode(const std::vector<Span>& spans) {
  out_.clear();
  {
    Wire out(out_);
    put_request(out, spans);
  }  // out_ now holds exactly the request
  return out_;
}

}  // namespace spanwire
