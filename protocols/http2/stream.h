// HTTP/2 stream model shared by the connection parser and its users. Pure data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spanwire::http2 {

struct Header {
  std::string name;   // lowercase in HTTP/2
  std::string value;
  bool operator==(const Header&) const = default;
};

// One direction of one stream.
struct StreamSide {
  std::vector<Header> headers;   // first header block (request: :method :path ...; response: :status ...)
  std::vector<Header> trailers;  // a later header block (with END_STREAM)
  uint64_t data_bytes = 0;       // DATA payload bytes, padding excluded (bytes lost in gaps included)
  uint64_t first_ts = 0, last_ts = 0;  // caller's timestamps of the first / last frame byte of this side
  // Offset of this side's first frame in its direction's byte stream (counting
  // every byte fed or declared missing, the client preface included).
  uint64_t first_offset = 0;
  bool end_stream = false;
  // Some header fields could not be decoded (unknown HPACK dynamic table): they are
  // omitted, never guessed.
  bool headers_uncertain = false;
  // Fields beyond Limits::max_header_list were dropped, or a block exceeded
  // Limits::max_header_block and was dropped whole.
  bool headers_truncated = false;
  // Some DATA bytes of this side were not seen (gap); data_bytes still counts them.
  bool data_gap = false;
  // gRPC length-prefixed messages in the DATA payload, filled when the side's
  // content-type is application/grpc*. message_bytes excludes the 5-byte prefixes.
  uint64_t messages = 0;
  uint64_t message_bytes = 0;
  // The message count is a lower bound (a gap broke the framing, or the side was
  // joined after its first DATA byte).
  bool messages_uncertain = false;

  // First field named `name` (exact match: names are lowercase in HTTP/2); nullptr if absent.
  const std::string* header(std::string_view name) const {
    for (const Header& h : headers) {
      if (h.name == name) return &h.value;
    }
    return nullptr;
  }
  // The same lookup in the trailers.
  const std::string* trailer(std::string_view name) const {
    for (const Header& h : trailers) {
      if (h.name == name) return &h.value;
    }
    return nullptr;
  }
  bool operator==(const StreamSide&) const = default;
};

struct Stream {
  uint32_t id = 0;
  StreamSide request, response;          // request = client -> server side
  std::optional<uint32_t> rst_error;     // RST_STREAM error code (either side)
  std::optional<uint32_t> goaway_error;  // error code of the connection GOAWAY that ended this stream
  // The id is above the last_stream_id of a GOAWAY from the peer that was to process it:
  // the stream was never processed (safe to retry). goaway_error is set too.
  bool refused = false;
  // Dropped from the open set to respect Limits::max_open_streams.
  bool evicted = false;

  // Both sides ended (END_STREAM), or the stream was reset or refused.
  bool complete() const {
    return (request.end_stream && response.end_stream) || rst_error.has_value() || refused;
  }
  bool operator==(const Stream&) const = default;
};

struct Limits {
  size_t max_header_block = 64 * 1024;  // compressed bytes of one header block (HEADERS + CONTINUATION)
  size_t max_header_list = 64 * 1024;   // decoded fields kept per block: sum of name + value + 32
  size_t max_open_streams = 1000;       // beyond: the oldest open stream is evicted
  // Frame length accepted until the receiving peer advertises SETTINGS_MAX_FRAME_SIZE
  // (then the advertised value applies). Longer frames count as corrupt.
  uint32_t max_frame_size = 16384;
  // Payload bytes of a non-DATA frame kept for parsing (the rest is skipped); also the
  // window searched ahead when resynchronising. DATA payloads are never buffered.
  size_t max_buffered_frame = 64 * 1024 + 64;
};

struct ParserStats {
  uint64_t frames = 0;         // frames parsed (both directions)
  uint64_t header_blocks = 0;  // header blocks decoded (HEADERS / PUSH_PROMISE + CONTINUATION)
  uint64_t streams = 0;        // stream records created
  uint64_t resets = 0;         // RST_STREAM frames
  uint64_t goaways = 0;        // GOAWAY frames
  uint64_t errors = 0;         // corrupt or out-of-place frames, undecodable header blocks
  uint64_t skipped_bytes = 0;  // bytes discarded while resynchronising
  uint64_t hpack_uncertain_blocks = 0;  // header blocks with omitted fields
  bool hpack_state_unknown = false;     // some direction lost its HPACK dynamic table
  uint64_t resyncs = 0;           // times a direction lost frame alignment
  uint64_t evicted_streams = 0;   // open streams dropped for Limits::max_open_streams
  uint64_t gaps = 0;              // gap_client / gap_server calls
};

}  // namespace spanwire::http2
