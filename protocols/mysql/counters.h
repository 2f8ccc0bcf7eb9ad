// MySQL/MariaDB's counters (protocols/common/protocol_counters.h), in one list.
#pragma once

#include "common/protocol_counters.h"

namespace spanwire::mysql {

#define SW_MYSQL_COUNTERS(X)                                                                         \
  X(messages, "packets framed (both directions)")                                                    \
  X(resyncs, "parser resynchronisations after gaps or garbage")                                     \
  X(parse_errors, "parse errors")                                                                    \
  X(unparsed_bytes, "bytes skipped while resynchronising")                                           \
  X(requests_unpaired_after_loss, "commands with no span: after lost bytes their answer cannot be told for certain") \
  X(responses_orphaned, "server packets answering no command")                                       \
  X(statements_unknown, "executions of a statement prepared before the sensor: span without its text") \
  X(statements_evicted, "prepared statements forgotten at the per-connection bound of 1,024")        \
  X(tls_connections, "connections that switched to TLS after the SSL request (traced through the TLS hooks)")

SW_DEFINE_PROTOCOL_COUNTERS(SW_MYSQL_COUNTERS)

}  // namespace spanwire::mysql
