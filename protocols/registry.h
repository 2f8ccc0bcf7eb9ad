// Every protocol module of protocols/protocol_list.h, by id. Each folder
// defines `const ProtocolModule& <folder>::module()` in its module.cpp.
#pragma once

#include <cstdint>
#include <span>

#include "common/protocol_session.h"
#include "protocol_list.h"

namespace spanwire {

#define SW_DECLARE_MODULE(NAME, value, folder) \
  namespace folder {                           \
  const ProtocolModule& module();              \
  }
SW_PROTOCOL_LIST(SW_DECLARE_MODULE)
#undef SW_DECLARE_MODULE

struct RegisteredModule {
  uint8_t id;  // enum sw_protocol
  const ProtocolModule* module;
};

// In the order of the protocol list.
std::span<const RegisteredModule> protocol_modules();
// nullptr when spanwire does not parse protocol `id`.
const ProtocolModule* find_protocol_module(uint8_t id);

// The session for a connection of protocol `id`, or nullptr.
std::unique_ptr<ProtocolSession> make_protocol_session(uint8_t id, const SessionContext& context);

}  // namespace spanwire
