// gRPC over HTTP/2 helpers (gRPC "PROTOCOL-HTTP2" spec): content-type detection, method
// paths, the 5-byte length-prefixed message framing, status codes and grpc-message
// percent-decoding. Pure functions and one small state machine; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spanwire::grpc_wire {

// "application/grpc" or "application/grpc+<subtype>" (e.g. +proto, +json); the type is
// matched case-insensitively; parameters after ';' are tolerated.
bool is_grpc(std::string_view content_type);

struct MethodPath {
  std::string_view service;  // "package.Service"
  std::string_view method;   // "Method"
};
// Splits a gRPC :path "/package.Service/Method"; nullopt if not of that shape.
std::optional<MethodPath> parse_path(std::string_view path);

// Counts gRPC length-prefixed messages (1-byte compressed flag + 4-byte big-endian
// length + payload) in one direction's DATA payload, fed in arbitrary pieces.
class MessageFramer {
 public:
  // Payload bytes, in order.
  void feed(std::string_view data);
  // `n` payload bytes are missing. Inside a message's payload the count stays exact (the
  // length is known); a gap that hits a prefix loses the framing for good (lost()).
  void gap(uint64_t n);
  // The framer joined after the first payload byte: nothing can be counted.
  void mark_lost() { lost_ = true; }

  uint64_t messages() const { return messages_; }            // complete messages
  uint64_t message_bytes() const { return message_bytes_; }  // their payload bytes (no prefixes)
  uint64_t compressed_messages() const { return compressed_; }
  bool lost() const { return lost_; }                 // counts are a lower bound
  bool partial() const { return !lost_ && (prefix_have_ != 0 || in_payload_); }  // mid-message
  bool had_gap() const { return had_gap_; }

 private:
  void complete_message();

  unsigned char prefix_[5] = {};
  size_t prefix_have_ = 0;
  bool in_payload_ = false;
  uint64_t remaining_ = 0;  // payload bytes of the current message still to come
  uint64_t current_length_ = 0;
  bool current_compressed_ = false;
  uint64_t messages_ = 0, message_bytes_ = 0, compressed_ = 0;
  bool lost_ = false;
  bool had_gap_ = false;
};

// gRPC status codes.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};
// "OK", "CANCELLED", ... "UNAUTHENTICATED"; nullptr for codes outside 0..16.
const char* status_name(int code);
// Parses a grpc-status value (decimal, no sign); nullopt if not a number < 2^31.
std::optional<int> parse_status(std::string_view value);

// Decodes a grpc-message value: "%XX" sequences (hex, either case) become bytes; a '%'
// not followed by two hex digits is kept as is (the spec forbids failing on bad input).
std::string decode_message(std::string_view value);
// Encodes per the spec: bytes outside 0x20..0x7E and '%' become "%XX" (uppercase hex).
std::string encode_message(std::string_view text);

}  // namespace spanwire::grpc_wire
