// MySQL and MariaDB as a protocol module (common/protocol_session.h).
#include "mysql/counters.h"
#include "mysql/session.h"
#include "registry.h"

namespace spanwire::mysql {

const ProtocolModule& module() {
  static const ProtocolModule kModule{"mysql", kCounters, make_session_of<Session>};
  return kModule;
}

}  // namespace spanwire::mysql
