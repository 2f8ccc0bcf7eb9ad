// Names the other end of a client call: when a CLIENT span's socket peer
// (network.peer.address) or server.address is an address the orchestrator
// knows (a pod IP or a Service's cluster IP), it gets peer.service, so service graphs name both ends even when the callee is
// not traced on this node. A stage between the assembler and the linker.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "span/span_consumer.h"

namespace spanwire {

class PeerNamer final : public SpanProcessor {
 public:
  using Lookup = std::function<std::optional<std::string>(std::string_view ip)>;
  PeerNamer(Lookup lookup, SpanConsumer& next) : SpanProcessor(next), lookup_(std::move(lookup)) {}

  void consume(Span span) override;

 private:
  Lookup lookup_;
};

}  // namespace spanwire
