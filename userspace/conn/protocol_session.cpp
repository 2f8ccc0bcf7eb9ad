#include "conn/protocol_session.h"

#include <linux/types.h>

#include "conn/http1_session.h"
#include "conn/http2_session.h"
#include "spanwire.h"

namespace spanwire {

std::unique_ptr<ProtocolSession> make_protocol_session(uint8_t protocol, const http1::Limits& http1_limits) {
  switch (protocol) {
    case SW_PROTO_HTTP1:
      return std::make_unique<Http1Session>(http1_limits);
    case SW_PROTO_HTTP2:
      return std::make_unique<Http2Session>();
    default:
      return nullptr;
  }
}

}  // namespace spanwire
