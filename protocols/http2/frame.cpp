#include "http2/frame.h"

namespace spanwire::http2 {

bool decode_frame_header(std::string_view bytes, FrameHeader& out) {
  if (bytes.size() < kFrameHeaderSize) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  out.length = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[2]};
  out.type = p[3];
  out.flags = p[4];
  const uint32_t id = read_u32(p + 5);
  out.stream_id = id & kStreamIdMask;
  out.reserved = (id & ~kStreamIdMask) != 0;
  return true;
}

void append_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void append_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void append_frame_header(std::string& out, const FrameHeader& header) {
  out.push_back(static_cast<char>(header.length >> 16));
  out.push_back(static_cast<char>(header.length >> 8));
  out.push_back(static_cast<char>(header.length));
  out.push_back(static_cast<char>(header.type));
  out.push_back(static_cast<char>(header.flags));
  append_u32(out, (header.stream_id & kStreamIdMask) | (header.reserved ? ~kStreamIdMask : 0));
}

const char* frame_type_name(uint8_t type) {
  switch (type) {
    case 0x0: return "DATA";
    case 0x1: return "HEADERS";
    case 0x2: return "PRIORITY";
    case 0x3: return "RST_STREAM";
    case 0x4: return "SETTINGS";
    case 0x5: return "PUSH_PROMISE";
    case 0x6: return "PING";
    case 0x7: return "GOAWAY";
    case 0x8: return "WINDOW_UPDATE";
    case 0x9: return "CONTINUATION";
    default: return "UNKNOWN";
  }
}

const char* error_code_name(uint32_t code) {
  switch (code) {
    case 0x0: return "NO_ERROR";
    case 0x1: return "PROTOCOL_ERROR";
    case 0x2: return "INTERNAL_ERROR";
    case 0x3: return "FLOW_CONTROL_ERROR";
    case 0x4: return "SETTINGS_TIMEOUT";
    case 0x5: return "STREAM_CLOSED";
    case 0x6: return "FRAME_SIZE_ERROR";
    case 0x7: return "REFUSED_STREAM";
    case 0x8: return "CANCEL";
    case 0x9: return "COMPRESSION_ERROR";
    case 0xa: return "CONNECT_ERROR";
    case 0xb: return "ENHANCE_YOUR_CALM";
    case 0xc: return "INADEQUATE_SECURITY";
    case 0xd: return "HTTP_1_1_REQUIRED";
    default: return "UNKNOWN_ERROR";
  }
}

uint8_t defined_flags(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kData: return flags::kEndStream | flags::kPadded;
    case FrameType::kHeaders:
      return flags::kEndStream | flags::kEndHeaders | flags::kPadded | flags::kPriority;
    case FrameType::kSettings:
    case FrameType::kPing: return flags::kAck;
    case FrameType::kPushPromise: return flags::kEndHeaders | flags::kPadded;
    case FrameType::kContinuation: return flags::kEndHeaders;
    default: return 0;
  }
}

FrameCheck check_frame_header(const FrameHeader& h, uint32_t max_frame_size, bool strict) {
  if (h.type > kLastKnownFrameType) {
    if (strict) return FrameCheck::kUnknownType;
    return h.length > max_frame_size ? FrameCheck::kTooLong : FrameCheck::kOk;
  }
  if (strict && (h.reserved || (h.flags & ~defined_flags(h.type)) != 0)) return FrameCheck::kBadLength;
  if (h.length > max_frame_size) return FrameCheck::kTooLong;
  const bool on_stream = h.stream_id != 0;
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kData:
      if (!on_stream) return FrameCheck::kBadStreamId;
      if (h.has(flags::kPadded) && h.length < 1) return FrameCheck::kBadLength;
      return FrameCheck::kOk;
    case FrameType::kHeaders: {
      if (!on_stream) return FrameCheck::kBadStreamId;
      uint32_t min = (h.has(flags::kPadded) ? 1 : 0) + (h.has(flags::kPriority) ? 5 : 0);
      return h.length < min ? FrameCheck::kBadLength : FrameCheck::kOk;
    }
    case FrameType::kPriority:
      if (!on_stream) return FrameCheck::kBadStreamId;
      return h.length != 5 ? FrameCheck::kBadLength : FrameCheck::kOk;
    case FrameType::kRstStream:
      if (!on_stream) return FrameCheck::kBadStreamId;
      return h.length != 4 ? FrameCheck::kBadLength : FrameCheck::kOk;
    case FrameType::kSettings:
      if (on_stream) return FrameCheck::kBadStreamId;
      if (h.has(flags::kAck)) return h.length != 0 ? FrameCheck::kBadLength : FrameCheck::kOk;
      return h.length % 6 != 0 ? FrameCheck::kBadLength : FrameCheck::kOk;
    case FrameType::kPushPromise: {
      if (!on_stream) return FrameCheck::kBadStreamId;
      uint32_t min = 4 + (h.has(flags::kPadded) ? 1 : 0);
      return h.length < min ? FrameCheck::kBadLength : FrameCheck::kOk;
    }
    case FrameType::kPing:
      if (on_stream) return FrameCheck::kBadStreamId;
      return h.length != 8 ? FrameCheck::kBadLength : FrameCheck::kOk;
    case FrameType::kGoaway:
      if (on_stream) return FrameCheck::kBadStreamId;
      return h.length < 8 ? FrameCheck::kBadLength : FrameCheck::kOk;
    case FrameType::kWindowUpdate:
      return h.length != 4 ? FrameCheck::kBadLength : FrameCheck::kOk;
    case FrameType::kContinuation:
      return on_stream ? FrameCheck::kOk : FrameCheck::kBadStreamId;
  }
  return FrameCheck::kOk;
}

bool strip_payload(const FrameHeader& h, std::string_view payload, PayloadView& out) {
  out = PayloadView{};
  const auto type = static_cast<FrameType>(h.type);
  const bool can_pad =
      type == FrameType::kData || type == FrameType::kHeaders || type == FrameType::kPushPromise;
  if (can_pad && h.has(flags::kPadded)) {
    if (payload.empty()) return false;
    out.pad_length = static_cast<unsigned char>(payload[0]);
    payload.remove_prefix(1);
  }
  if (type == FrameType::kHeaders && h.has(flags::kPriority)) {
    if (payload.size() < 5) return false;
    const uint32_t dep = read_u32(payload, 0);
    out.has_priority = true;
    out.exclusive = (dep & ~kStreamIdMask) != 0;
    out.stream_dependency = dep & kStreamIdMask;
    out.weight = static_cast<unsigned char>(payload[4]);
    payload.remove_prefix(5);
  }
  if (type == FrameType::kPushPromise) {
    if (payload.size() < 4) return false;
    out.promised_stream_id = read_u32(payload, 0) & kStreamIdMask;
    payload.remove_prefix(4);
  }
  // RFC 9113 6.1 / 6.2 / 6.6: padding longer than what remains is a PROTOCOL_ERROR
  // (an empty fragment or empty data is allowed).
  if (out.pad_length > payload.size()) return false;
  out.content = payload.substr(0, payload.size() - out.pad_length);
  return true;
}

}  // namespace spanwire::http2
