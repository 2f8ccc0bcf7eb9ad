// HTTP/2's counters (protocols/common/protocol_counters.h), in one list.
#pragma once

#include "common/protocol_counters.h"

namespace spanwire::http2 {

#define SW_HTTP2_COUNTERS(X)                                                        \
  X(frames, "frames parsed")                                                        \
  X(streams, "streams seen")                                                   \
  X(resets, "streams ended by RST_STREAM")                                          \
  X(goaways, "GOAWAY frames")                                                       \
  X(parse_errors, "parse errors")                                                   \
  X(resyncs, "parser resynchronisations after gaps or garbage")                    \
  X(unparsed_bytes, "bytes skipped while resynchronising")                          \
  X(hpack_unknown_connections, "connections joined with an unknown HPACK table")    \
  X(hpack_uncertain_blocks, "header blocks decoded only in part")

SW_DEFINE_PROTOCOL_COUNTERS(SW_HTTP2_COUNTERS)

}  // namespace spanwire::http2
