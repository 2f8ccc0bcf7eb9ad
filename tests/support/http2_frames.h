// Test-side HTTP/2 frame builder: a frame header (RFC 9113 section 4.1) and
// its payload, for parser tests and benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http2/frame.h"

namespace spanwire::testing {

inline std::string frame(http2::FrameType type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  http2::FrameHeader h;
  h.length = static_cast<uint32_t>(payload.size());
  h.type = static_cast<uint8_t>(type);
  h.flags = flags;
  h.stream_id = stream;
  http2::append_frame_header(out, h);
  out.append(payload);
  return out;
}

}  // namespace spanwire::testing
