#include "span/peer_namer.h"

namespace spanwire {

void PeerNamer::consume(Span span) {
  if (lookup_ && span.kind == SpanKind::kClient && span.find("peer.service") == nullptr) {
    for (std::string_view key : {"network.peer.address", "server.address"}) {
      const auto* address = span.find(key);
      const auto* ip = address != nullptr ? std::get_if<std::string>(address) : nullptr;
      if (ip == nullptr) continue;
      if (auto name = lookup_(*ip)) {
        span.attributes.push_back({"peer.service", std::move(*name)});
        break;
      }
    }
  }
  next_.consume(std::move(span));
}

}  // namespace spanwire
