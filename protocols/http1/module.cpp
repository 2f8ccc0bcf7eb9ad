// HTTP/1.x as a protocol module (common/protocol_session.h).
#include "http1/counters.h"
#include "http1/session.h"
#include "registry.h"

namespace spanwire::http1 {

const ProtocolModule& module() {
  static const ProtocolModule kModule{"http1", kCounters, make_session_of<Session>};
  return kModule;
}

}  // namespace spanwire::http1
