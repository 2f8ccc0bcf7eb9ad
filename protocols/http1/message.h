// HTTP/1.x message model shared by the parser, the exchange matcher and their users.
// Pure data: no I/O, no dependencies beyond the standard library.
#pragma once

#include "common/tally.h"
#include "common/text.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spanwire::http1 {

enum class Kind { kRequest, kResponse };

struct Header {
  std::string name;   // as sent (case preserved)
  std::string value;  // leading/trailing SP and HTAB removed
  bool operator==(const Header&) const = default;
};

// A 1xx other than 101: an interim response, followed by the final response
// to the same request (RFC 9110 section 15.2).
inline bool is_interim_status(int status) { return status >= 100 && status < 200 && status != 101; }

// After this response the connection carries another protocol: 101
// Switching Protocols, or a 2xx to CONNECT (a tunnel, RFC 9110 section 9.3.6).
inline bool switches_protocols(std::string_view method, int status) {
  return status == 101 || (method == "CONNECT" && status / 100 == 2);
}


struct Message {
  Kind kind = Kind::kRequest;
  std::string method, target;  // request line
  int status_code = 0;         // status line
  std::string reason;
  int version_minor = 1;        // HTTP/1.<minor>
  std::vector<Header> headers;  // in order; at most Limits::max_headers are kept
  bool headers_truncated = false;  // more header fields were sent than Limits::max_headers
  // Trailer fields of a chunked body. Kept apart from `headers` because they arrive
  // after the body and a consumer must not mistake them for framing headers.
  std::vector<Header> trailers;

  uint64_t header_bytes = 0;  // start line + header fields incl. the final empty line
  uint64_t body_bytes = 0;    // decoded body size (chunked: payload only, no framing)
  bool chunked = false;
  bool complete = true;       // false: ended by a gap / close / error before its declared end
  // The head was cut short (longer than Limits::max_header_bytes, or bytes of it were
  // lost): the start line and the fields before the cut are known, the body is not.
  bool head_cut = false;
  // Content-Length / Transfer-Encoding that frame no body (RFC 9112 6.3): the head is
  // known, where the body ends is not.
  bool framing_invalid = false;
  bool body_had_gap = false;  // some body bytes were never seen (still counted in body_bytes)
  // The parser had lost sync just before this message (gap, garbage, start_midstream):
  // earlier messages of this stream may be missing.
  bool after_resync = false;
  uint64_t stream_offset = 0;          // position of the first byte in this direction's stream
  uint64_t first_ts = 0, last_ts = 0;  // timestamps of the chunks carrying first / last byte

  // Case-insensitive lookup of a header field; first match; nullptr if absent.
  const std::string* header(std::string_view name) const {
    for (const Header& h : headers) {
      if (iequals(h.name, name)) return &h.value;
    }
    return nullptr;
  }

  bool operator==(const Message&) const = default;
};

struct Limits {
  size_t max_header_bytes = 64 * 1024;  // start line + headers; also bounds a trailer section
  size_t max_headers = 128;             // fields kept per message; extra ones are dropped
};

struct ParserStats {
  Tally messages;       // messages emitted (complete or not)
  Tally resyncs;        // times the parser lost sync (gap, error, start_midstream)
  Tally errors;         // protocol violations (bad start line, header, framing, size)
  Tally skipped_bytes;  // bytes seen but discarded (not part of any emitted message)
  Tally heads_cut;      // heads reported cut short (over the limit, or bytes lost)
  Tally framing_invalid;  // heads reported whose body could not be framed
};

}  // namespace spanwire::http1
