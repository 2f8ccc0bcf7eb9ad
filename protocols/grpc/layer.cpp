#include "grpc/layer.h"

#include "grpc/grpc_wire.h"
#include "http/semconv.h"

namespace spanwire::grpc {
namespace {

// Counts one stream side's messages (grpc_wire::MessageFramer).
class MessageTap final : public http2::DataTap {
 public:
  void data(std::string_view bytes) override { framer_.feed(bytes); }
  void gap(uint64_t n) override { framer_.gap(n); }
  void lost() override { framer_.mark_lost(); }
  void finish(http2::StreamSide& side) override {
    side.messages = framer_.messages();
    side.message_bytes = framer_.message_bytes();
    side.messages_uncertain = framer_.lost() || framer_.partial();
  }

 private:
  grpc_wire::MessageFramer framer_;
};

bool is_grpc_side(const http2::StreamSide& side) {
  const std::string* ct = side.header("content-type");
  return ct != nullptr && grpc_wire::is_grpc(*ct);
}

// By the request's content-type, or the response's when the request's is unknown.
bool is_grpc_call(const http2::Stream& st) {
  const std::string* ct = st.request.header("content-type");
  if (ct == nullptr) ct = st.response.header("content-type");
  return ct != nullptr && grpc_wire::is_grpc(*ct);
}

// gRPC status codes that are the server's failure (OpenTelemetry RPC conventions);
// for a client every code but OK is a failed call.
bool server_error(int code) {
  using grpc_wire::StatusCode;
  switch (static_cast<StatusCode>(code)) {
    case StatusCode::kUnknown:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnimplemented:
    case StatusCode::kInternal:
    case StatusCode::kUnavailable:
    case StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

void add(std::vector<Attribute>& attrs, std::string_view key, AttributeValue value) {
  attrs.push_back({key, std::move(value)});
}

// A call shows as method "gRPC", path "/package.Service/Method" and its status code.
ExchangeSummary summarize(std::span<const Attribute> attributes) {
  ExchangeSummary s;
  s.operation = "gRPC";
  const std::string method = string_attribute(attributes, "rpc.method");
  if (!method.empty()) s.target = "/" + string_attribute(attributes, "rpc.service") + "/" + method;
  s.status = int_attribute(attributes, "rpc.grpc.status_code");
  if (s.status) s.outcome = "grpc=" + std::to_string(*s.status);
  s.request_bytes = int_attribute(attributes, "spanwire.rpc.request.message_bytes");
  s.response_bytes = int_attribute(attributes, "spanwire.rpc.response.message_bytes");
  return s;
}

constexpr std::string_view kSeriesKeys[] = {"rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code"};

}  // namespace

const Semconv kSemconv{MetricFamily::kRpc, kSeriesKeys, summarize};

std::unique_ptr<http2::DataTap> Layer::tap(const http2::StreamSide& side) const {
  return is_grpc_side(side) ? std::make_unique<MessageTap>() : nullptr;
}

bool Layer::describe(ExchangeRecord& record, const ConnectionFacts& conn, const http2::Stream& st) const {
  if (!is_grpc_call(st)) return false;
  record.semconv = &kSemconv;
  auto& a = record.attributes;
  const std::string* path = st.request.header(":path");
  auto mp = path ? grpc_wire::parse_path(*path) : std::nullopt;
  record.name = mp ? std::string(mp->service) + "/" + std::string(mp->method) : "grpc";
  add(a, "rpc.system", std::string("grpc"));
  if (mp) {
    add(a, "rpc.service", std::string(mp->service));
    add(a, "rpc.method", std::string(mp->method));
  }
  // An :authority without a port means the scheme's default: 443 over TLS.
  const std::string* scheme = st.request.header(":scheme");
  const bool https = scheme ? *scheme == "https" : conn.tls;
  record.server = http::parse_authority(st.request.header(":authority"), https ? 443 : 80);
  http::add_protocol_attributes(record, conn, "2");
  if (const std::string* ua = st.request.header("user-agent")) add(a, "user_agent.original", *ua);

  // grpc-status comes in the trailers, or alone in the response headers (Trailers-Only).
  const std::string* status = st.response.trailer("grpc-status");
  const std::string* message = st.response.trailer("grpc-message");
  if (!status) {
    status = st.response.header("grpc-status");
    message = st.response.header("grpc-message");
  }
  const std::optional<int> code = status ? grpc_wire::parse_status(*status) : std::nullopt;
  if (code) {
    add(a, "rpc.grpc.status_code", static_cast<int64_t>(*code));
    if (conn.client() ? *code != 0 : server_error(*code)) {
      record.status = StatusCode::kError;
      const char* name = grpc_wire::status_name(*code);
      add(a, "error.type", std::string(name ? name : std::to_string(*code)));
      if (message) record.status_message = grpc_wire::decode_message(*message);
    }
  }
  add(a, "spanwire.rpc.request.messages", static_cast<int64_t>(st.request.messages));
  add(a, "spanwire.rpc.request.message_bytes", static_cast<int64_t>(st.request.message_bytes));
  add(a, "spanwire.rpc.response.messages", static_cast<int64_t>(st.response.messages));
  add(a, "spanwire.rpc.response.message_bytes", static_cast<int64_t>(st.response.message_bytes));
  if (st.request.messages_uncertain || st.response.messages_uncertain)
    add(a, "spanwire.rpc.message_counts_incomplete", true);
  return true;
}

}  // namespace spanwire::grpc
