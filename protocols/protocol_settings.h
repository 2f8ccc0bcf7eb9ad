// What configuration gives the protocol modules: one member per protocol
// that has settings of its own.
#pragma once

#include "http/url_redaction.h"
#include "http1/message.h"

namespace spanwire {

struct ProtocolSettings {
  http1::Limits http1;
  UrlRedaction url_redaction;  // HTTP/1 and HTTP/2: url.query and url.full never carry secrets
};

}  // namespace spanwire
