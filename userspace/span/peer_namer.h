// Names the other end of a client call: when a CLIENT span's socket peer
// (network.peer.address) or server.address is an address the orchestrator
// knows (a pod IP or a Service's cluster IP), it gets peer.service, so service graphs name both ends even when the callee is
// not traced on this node. A stage between the assembler and the linker.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "export/exporter.h"

namespace spanwire {

class PeerNamer final : public SpanExporter {
 public:
  using Lookup = std::function<std::optional<std::string>(std::string_view ip)>;
  PeerNamer(Lookup lookup, SpanExporter& next) : lookup_(std::move(lookup)), next_(next) {}

  void export_span(Span span) override;
  void flush(std::chrono::milliseconds timeout) override { next_.flush(timeout); }

 private:
  Lookup lookup_;
  SpanExporter& next_;
};

}  // namespace spanwire
