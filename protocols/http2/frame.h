// HTTP/2 frame layer (RFC 9113 section 4 and 6): the 9-byte frame header, frame types,
// flags, error codes, SETTINGS identifiers, and the stripping of padding and priority
// fields from HEADERS / PUSH_PROMISE / DATA payloads. Pure functions, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace spanwire::http2 {

constexpr size_t kFrameHeaderSize = 9;
constexpr uint32_t kMaxFrameLength = (1u << 24) - 1;      // 24-bit length field
constexpr uint32_t kDefaultMaxFrameSize = 16384;           // SETTINGS_MAX_FRAME_SIZE initial value
constexpr uint32_t kStreamIdMask = 0x7fffffffu;            // reserved bit cleared
constexpr uint32_t kDefaultHeaderTableSize = 4096;         // SETTINGS_HEADER_TABLE_SIZE initial value

// Client connection preface (RFC 9113 3.4), sent before the client's first frame.
constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static_assert(kClientPreface.size() == 24);

enum class FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};
constexpr uint8_t kLastKnownFrameType = 0x9;

namespace flags {
constexpr uint8_t kEndStream = 0x01;   // DATA, HEADERS
constexpr uint8_t kAck = 0x01;         // SETTINGS, PING
constexpr uint8_t kEndHeaders = 0x04;  // HEADERS, PUSH_PROMISE, CONTINUATION
constexpr uint8_t kPadded = 0x08;      // DATA, HEADERS, PUSH_PROMISE
constexpr uint8_t kPriority = 0x20;    // HEADERS
}  // namespace flags

// Error codes of RST_STREAM and GOAWAY (RFC 9113 7).
enum class ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kSettingsTimeout = 0x4,
  kStreamClosed = 0x5,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kCompressionError = 0x9,
  kConnectError = 0xa,
  kEnhanceYourCalm = 0xb,
  kInadequateSecurity = 0xc,
  kHttp11Required = 0xd,
};

// SETTINGS parameters (RFC 9113 6.5.2).
namespace settings {
constexpr uint16_t kHeaderTableSize = 0x1;
constexpr uint16_t kEnablePush = 0x2;
constexpr uint16_t kMaxConcurrentStreams = 0x3;
constexpr uint16_t kInitialWindowSize = 0x4;
constexpr uint16_t kMaxFrameSize = 0x5;
constexpr uint16_t kMaxHeaderListSize = 0x6;
}  // namespace settings

struct FrameHeader {
  uint32_t length = 0;     // payload length (24 bits)
  uint8_t type = 0;        // FrameType value, or an extension type
  uint8_t flags = 0;
  uint32_t stream_id = 0;  // 31 bits
  bool reserved = false;   // the reserved bit of the stream id field was set

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
  bool operator==(const FrameHeader&) const = default;
};

// Decodes the first 9 bytes of `bytes`; false if fewer are given.
bool decode_frame_header(std::string_view bytes, FrameHeader& out);
// Appends the 9-byte encoding of `header` (length truncated to 24 bits).
void append_frame_header(std::string& out, const FrameHeader& header);

// "DATA", "HEADERS", ...; "UNKNOWN" for extension types.
const char* frame_type_name(uint8_t type);
// "NO_ERROR", "PROTOCOL_ERROR", ...; "UNKNOWN_ERROR" for unregistered codes.
const char* error_code_name(uint32_t code);

// Flags defined for a frame type (undefined flags must be ignored by receivers, but
// real senders leave them zero, which helps to recognise frame headers after a loss).
uint8_t defined_flags(uint8_t type);

enum class FrameCheck {
  kOk,
  kTooLong,         // length above the applicable maximum frame size
  kBadLength,       // length impossible for the type (RFC 9113 6.x FRAME_SIZE_ERROR)
  kBadStreamId,     // stream id 0 where a stream is required, or non-zero where forbidden
  kUnknownType,     // extension frame type (only an error when judged strictly)
};

// Structural check of a frame header against the rules of its type. Unknown (extension)
// types pass unless `strict`. `strict` also rejects set reserved bits and undefined
// flags: used when looking for a frame boundary in bytes of unknown alignment.
FrameCheck check_frame_header(const FrameHeader& header, uint32_t max_frame_size, bool strict);

// The parts of a HEADERS / PUSH_PROMISE / DATA payload once padding (PADDED) and the
// priority fields (HEADERS with PRIORITY) or promised stream id (PUSH_PROMISE) are
// removed. `content` is the header block fragment or the data.
struct PayloadView {
  std::string_view content;
  uint32_t pad_length = 0;         // padding bytes (excluding the Pad Length byte)
  bool has_priority = false;
  bool exclusive = false;
  uint32_t stream_dependency = 0;
  uint8_t weight = 0;              // as sent (effective weight is weight + 1)
  uint32_t promised_stream_id = 0; // PUSH_PROMISE
};

// Strips padding / priority / promised id according to the frame's type and flags.
// False if the payload is too short for the announced fields or the padding is at
// least as long as the rest (a PROTOCOL_ERROR).
bool strip_payload(const FrameHeader& header, std::string_view payload, PayloadView& out);

// Big-endian helpers.
inline uint32_t read_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint32_t read_u32(std::string_view s, size_t at) {
  return read_u32(reinterpret_cast<const unsigned char*>(s.data()) + at);
}
void append_u32(std::string& out, uint32_t v);
void append_u16(std::string& out, uint16_t v);

}  // namespace spanwire::http2
