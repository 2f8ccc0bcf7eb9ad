// HTTP/2 as a protocol module (common/protocol_session.h), with the
// application layers its streams may carry.
#include "grpc/layer.h"
#include "http2/counters.h"
#include "http2/session.h"
#include "registry.h"

namespace spanwire::http2 {
namespace {
const grpc::Layer kGrpc;
const StreamLayer* const kLayers[] = {&kGrpc};
}  // namespace

std::unique_ptr<Session> make_session(const SessionContext& context) {
  return std::make_unique<Session>(context, kLayers);
}

const ProtocolModule& module() {
  static const ProtocolModule kModule{
      "http2", kCounters,
      [](const SessionContext& context) -> std::unique_ptr<ProtocolSession> { return make_session(context); }};
  return kModule;
}

}  // namespace spanwire::http2
