// PostgreSQL's counters (protocols/common/protocol_counters.h), in one list.
#pragma once

#include "common/protocol_counters.h"

namespace spanwire::postgres {

#define SW_POSTGRES_COUNTERS(X)                                                                      \
  X(messages, "messages framed (both directions)")                                                   \
  X(resyncs, "parser resynchronisations after gaps or garbage")                                     \
  X(parse_errors, "parse errors")                                                                    \
  X(unparsed_bytes, "bytes skipped while resynchronising")                                           \
  X(async_messages, "asynchronous server messages (notices, notifications, parameter changes)")     \
  X(requests_unpaired_after_loss, "requests with no span: after lost bytes their answer cannot be told for certain") \
  X(requests_dropped_in_flight, "pipelined messages beyond 4,096 awaiting answers: no span")        \
  X(responses_orphaned, "answers without a request")                                                 \
  X(statements_unknown, "executions of a statement prepared before the sensor: span without its text") \
  X(statements_evicted, "prepared statements forgotten at the per-connection bound of 1,024")        \
  X(cancel_requests, "cancel requests (each on a connection of its own, never answered)")            \
  X(tls_connections, "connections that switched to TLS after SSLRequest (traced through the TLS hooks)")

SW_DEFINE_PROTOCOL_COUNTERS(SW_POSTGRES_COUNTERS)

}  // namespace spanwire::postgres
