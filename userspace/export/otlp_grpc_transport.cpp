#include "export/otlp_grpc_transport.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits for protobuf messages
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/grpc_wire.h"
#include "common/text.h"
#include "util/version.h"

namespace spanwire {

// ---------------------------------------------------------------- endpoint

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::invalid_argument bad_endpoint(std::string_view endpoint, std::string_view why) {
  return std::invalid_argument("OTLP/gRPC endpoint '" + std::string(endpoint) + "' " + std::string(why) +
                               "; expected http://host:port, https://host:port or host:port");
}

}  // namespace

OtlpEndpoint parse_otlp_endpoint(std::string_view endpoint, bool insecure) {
  OtlpEndpoint out;
  std::string_view rest = endpoint;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    throw bad_endpoint(endpoint, "has an unsupported scheme");
  } else {
    out.tls = !insecure;
  }
  // gRPC has no use for a path; people often leave a trailing "/".
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) throw bad_endpoint(endpoint, "has no host");

  std::string_view host = rest;
  std::string_view port;
  if (rest.front() == '[') {  // [v6-address] or [v6-address]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) throw bad_endpoint(endpoint, "has an unclosed '['");
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad_endpoint(endpoint, "has junk after ']'");
      port = after.substr(1);
      if (port.empty()) throw bad_endpoint(endpoint, "has an empty port");
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty()) throw bad_endpoint(endpoint, "has no host");
    if (port.empty()) throw bad_endpoint(endpoint, "has an empty port");
  }
  if (!port.empty() && (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) > 65535))
    throw bad_endpoint(endpoint, "has an invalid port");

  // A bare IPv6 address (several colons, no brackets) needs brackets before a port.
  const bool bare_v6 = host.front() != '[' && host.find(':') != std::string_view::npos;
  out.target = bare_v6 ? "[" + std::string(host) + "]" : std::string(host);
  out.target += ':';
  out.target += port.empty() ? std::to_string(kOtlpGrpcDefaultPort) : std::string(port);
  return out;
}

// ---------------------------------------------------------------- status rules

bool grpc_code_is_retryable(int code, bool has_retry_info) {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // Only a server that says when to come back is worth retrying.
      return has_retry_info;
    default:
      return false;
  }
}

namespace {

// grpc::StatusCode's values are the gRPC specification's codes.
std::string_view code_name(grpc::StatusCode code) {
  const char* name = grpc_wire::status_name(static_cast<int>(code));
  return name ? name : "UNKNOWN_CODE";
}

// What the user should check for each way an export can fail.
std::string_view hint_for(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return "check that the collector is running and listening there (and TLS vs plaintext: https:// or "
             "--otlp-insecure)";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the collector is too slow or the network drops packets; check it or raise --otlp-timeout-ms";
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return "check the credentials passed as export headers (--otlp-header, OTEL_EXPORTER_OTLP_HEADERS)";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "the endpoint does not serve OTLP/gRPC for this signal (4318 is OTLP/HTTP: --otlp-protocol "
             "http/protobuf)";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "the collector is overloaded or refuses the batch size; lower --batch-size";
    case grpc::StatusCode::CANCELLED:
      return "the sensor is shutting down";
    default:
      return "check the collector's logs";
  }
}

std::string read_pem(const std::string& path, std::string_view what) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty())
    throw std::invalid_argument("cannot read the " + std::string(what) + " file " + path +
                                ": check the path and its permissions");
  return text.str();
}

std::shared_ptr<grpc::Channel> make_channel(const OtlpEndpoint& endpoint, const OtlpSettings& settings) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (endpoint.tls) {
    // Empty roots make gRPC load the host's CA bundle.
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = read_pem(settings.ca_file, "CA certificate");
    tls.pem_cert_chain = read_pem(settings.client_cert_file, "client certificate");
    tls.pem_private_key = read_pem(settings.client_key_file, "client key");
    credentials = grpc::SslCredentials(tls);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("spanwire/" SPANWIRE_VERSION);
  args.SetMaxReceiveMessageSize(4 << 20);
  // gRPC's default backoff grows to 120 s, during which every call fails
  // without even trying; a collector that comes back should be used soon.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return grpc::CreateCustomChannel(endpoint.target, credentials, args);
}

OtlpSettings normalized(OtlpSettings settings) {
  // gRPC rejects metadata keys with capitals; HTTP header names are
  // case-insensitive, so this changes nothing for the collector.
  for (auto& [key, value] : settings.headers) key = to_lower(key);
  return settings;
}

const char* method_of(Signal signal) {
  return signal == Signal::kTraces ? "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                                   : "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
}

// The delay a google.rpc.RetryInfo in the status details asks for, if any.
std::optional<std::chrono::milliseconds> retry_delay(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo info;
    if (any.Is<google::rpc::RetryInfo>() && any.UnpackTo(&info)) {
      const auto& d = info.retry_delay();
      return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1'000'000);
    }
  }
  return std::nullopt;
}

}  // namespace

OtlpGrpcTransport::OtlpGrpcTransport(const OtlpSettings& settings)
    : settings_(normalized(settings)),
      endpoint_(parse_otlp_endpoint(settings_.endpoint, settings_.insecure)),
      channel_(make_channel(endpoint_, settings_)) {}

OtlpGrpcTransport::~OtlpGrpcTransport() = default;

ExportResult OtlpGrpcTransport::send(Signal signal, std::string_view request, google::protobuf::Message& response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + settings_.timeout);
  if (settings_.compression == Compression::kGzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  for (const auto& [key, value] : settings_.headers) context.AddMetadata(key, value);
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return {ExportResult::Outcome::kPermanent, std::nullopt, "cancelled", "the sensor is stopping"};
    in_flight_ = &context;
  }
  grpc::Slice slice(request.data(), request.size());
  const grpc::ByteBuffer body(&slice, 1);
  grpc::TemplatedGenericStub<grpc::ByteBuffer, google::protobuf::Message> stub(channel_);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method_of(signal), grpc::StubOptions{}, &body, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status status = done.get_future().get();
  bool cancelled;
  {
    std::lock_guard lock(mutex_);
    in_flight_ = nullptr;
    cancelled = cancelled_;
  }

  ExportResult result;
  if (status.ok()) {
    result.outcome = ExportResult::Outcome::kOk;
    return result;
  }
  const auto code = status.error_code();
  if (cancelled) {
    result.reason = "cancelled";
    result.detail = "the sensor is stopping";
    return result;  // permanent: nobody is left to retry
  }
  result.retry_after = retry_delay(status);
  result.outcome = grpc_code_is_retryable(code, result.retry_after.has_value()) ? ExportResult::Outcome::kRetryable
                                                                                 : ExportResult::Outcome::kPermanent;
  result.reason = to_lower(code_name(code));
  result.detail = fmt::format("{} ({}); {}", code_name(code), status.error_message(), hint_for(code));
  return result;
}

void OtlpGrpcTransport::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (in_flight_ != nullptr) in_flight_->TryCancel();
}

std::string OtlpGrpcTransport::describe() const {
  return fmt::format("OTLP/gRPC {}://{}", endpoint_.tls ? "https" : "http", endpoint_.target);
}

}  // namespace spanwire
