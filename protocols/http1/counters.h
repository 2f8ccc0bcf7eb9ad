// HTTP/1's counters (protocols/common/protocol_counters.h), in one list.
#pragma once

#include "common/protocol_counters.h"

namespace spanwire::http1 {

#define SW_HTTP1_COUNTERS(X)                                                                            \
  X(messages, "messages parsed")                                                                        \
  X(resyncs, "parser resynchronisations after gaps or garbage")                                        \
  X(parse_errors, "parse errors")                                                                       \
  X(unparsed_bytes, "bytes skipped while resynchronising")                                              \
  X(heads_truncated, "heads over the size limit or cut by lost bytes: start line reported, body not framed") \
  X(framing_invalid, "heads whose Content-Length/Transfer-Encoding frame no body (e.g. Content-Length: -1)") \
  X(requests_dropped_in_flight, "pipelined requests beyond 1,024 awaiting answers: no span, their answers skipped") \
  X(requests_unpaired_after_loss, "requests with no span: after lost events their answer was lost or cannot be told for certain") \
  X(responses_unpaired_after_loss, "responses with no span: after lost events their request cannot be told for certain") \
  X(responses_orphaned, "responses without a request")                                                 \
  X(upgrades_h2c, "connections upgraded to HTTP/2 (h2c)")                                              \
  X(upgraded_bytes_unparsed, "bytes after a protocol switch spanwire cannot parse (WebSocket, CONNECT)")

SW_DEFINE_PROTOCOL_COUNTERS(SW_HTTP1_COUNTERS)

}  // namespace spanwire::http1
