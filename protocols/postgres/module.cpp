// PostgreSQL (protocol 3.0) as a protocol module (common/protocol_session.h).
#include "postgres/counters.h"
#include "postgres/session.h"
#include "registry.h"

namespace spanwire::postgres {

const ProtocolModule& module() {
  static const ProtocolModule kModule{"postgres", kCounters, make_session_of<Session>};
  return kModule;
}

}  // namespace spanwire::postgres
