#include "export/otlp_transport.h"

#include "export/otlp_grpc_transport.h"
#include "export/otlp_http_transport.h"

namespace spanwire {

std::unique_ptr<OtlpTransport> make_otlp_transport(const OtlpSettings& settings) {
  if (settings.protocol == OtlpProtocol::kHttpProtobuf) return std::make_unique<OtlpHttpTransport>(settings);
  return std::make_unique<OtlpGrpcTransport>(settings);
}

}  // namespace spanwire
