// Redis's counters (protocols/common/protocol_counters.h), in one list.
#pragma once

#include "common/protocol_counters.h"

namespace spanwire::redis {

#define SW_REDIS_COUNTERS(X)                                                                        \
  X(messages, "messages framed (commands and replies)")                                             \
  X(resyncs, "parser resynchronisations after gaps or garbage")                                    \
  X(parse_errors, "parse errors")                                                                   \
  X(unparsed_bytes, "bytes skipped while resynchronising")                                          \
  X(pushes, "server pushes that answer no command (pub/sub messages, RESP3 pushes, MONITOR output)") \
  X(responses_orphaned, "replies without a command")                                                \
  X(requests_unpaired_after_loss, "commands with no span: after lost bytes their reply cannot be told for certain") \
  X(requests_dropped_in_flight, "pipelined commands beyond 4,096 awaiting replies: no span")        \
  X(requests_without_reply, "commands the client asked not to be answered (CLIENT REPLY OFF/SKIP): no span")

SW_DEFINE_PROTOCOL_COUNTERS(SW_REDIS_COUNTERS)

}  // namespace spanwire::redis
