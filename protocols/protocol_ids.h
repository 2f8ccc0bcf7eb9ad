// The protocol ids of protocols/protocol_list.h for C++ code:
// protocol_id::HTTP1 equals the kernel's SW_PROTO_HTTP1.
#pragma once

#include <cstdint>

#include "protocol_list.h"

namespace spanwire::protocol_id {

#define SW_PROTOCOL_ID(NAME, value, folder) NAME = value,
enum : uint8_t { SW_PROTOCOL_LIST(SW_PROTOCOL_ID) };
#undef SW_PROTOCOL_ID

}  // namespace spanwire::protocol_id
