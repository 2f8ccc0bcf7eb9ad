// HTTP/2 stream model shared by the connection parser and its users. Pure data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/tally.h"

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
  // Messages an application layer counted in the DATA payload (gRPC's
  // length-prefixed messages; see DataTap), and their bytes without framing.
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

// An application protocol's reader of one stream side's DATA payload (gRPC
// counts its length-prefixed messages), so that HTTP/2 itself knows nothing of them.
class DataTap {
 public:
  virtual ~DataTap() = default;
  virtual void data(std::string_view bytes) = 0;
  virtual void gap(uint64_t n) = 0;  // payload bytes that were never seen
  virtual void lost() = 0;           // bytes may be missing where it cannot tell
  // The stream completed: what was counted goes into `side`.
  virtual void finish(StreamSide& side) = 0;
};
// The tap for a side whose first header block is `side`; nullptr: none.
using DataTapFactory = std::function<std::unique_ptr<DataTap>(const StreamSide& side)>;

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
  Tally frames;         // frames parsed (both directions)
  Tally header_blocks;  // header blocks decoded (HEADERS / PUSH_PROMISE + CONTINUATION)
  Tally streams;        // stream records created
  Tally resets;         // RST_STREAM frames
  Tally goaways;        // GOAWAY frames
  Tally errors;         // corrupt or out-of-place frames, undecodable header blocks
  Tally skipped_bytes;  // bytes discarded while resynchronising
  Tally hpack_uncertain_blocks;  // header blocks with omitted fields
  bool hpack_state_unknown = false;     // some direction lost its HPACK dynamic table
  Tally hpack_unknown_connections;      // 1 once hpack_state_unknown is set
  Tally resyncs;           // times a direction lost frame alignment
  Tally evicted_streams;   // open streams dropped for Limits::max_open_streams
  Tally gaps;              // gap_client / gap_server calls
};

}  // namespace spanwire::http2
