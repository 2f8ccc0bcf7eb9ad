// Redis (RESP2 and RESP3) as a protocol module (common/protocol_session.h).
#include "redis/counters.h"
#include "redis/session.h"
#include "registry.h"

namespace spanwire::redis {

const ProtocolModule& module() {
  static const ProtocolModule kModule{"redis", kCounters, make_session_of<Session>};
  return kModule;
}

}  // namespace spanwire::redis
