#include "export/otlp_http_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace spanwire {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
using namespace std::chrono_literals;
using Outcome = ExportResult::Outcome;

// ------------------------------------------------------------ test server

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A TCP socket bound to a free loopback port; listening only if asked. A
// bound socket that does not listen refuses connections, without the race
// of closing a port someone else may then take.
Fd bound_loopback_socket(bool listen) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd.get() < 0 || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      (listen && ::listen(fd.get(), 8) != 0))
    throw std::runtime_error("cannot set up a loopback socket");
  return fd;
}

uint16_t port_of(const Fd& fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

struct CannedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool stall = false;  // read the request, never answer (until the client leaves or kStallLimit)

  static CannedResponse stalling() {
    CannedResponse r;
    r.stall = true;
    return r;
  }
};

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A small HTTP/1.1 server on a loopback port: serves one connection at a time
// (keep-alive), records each request and answers with the canned responses in
// order, the last one repeating.
class TestHttpServer {
 public:
  static constexpr auto kStallLimit = 4s;
  static constexpr auto kIoLimit = 5s;

  explicit TestHttpServer(std::vector<CannedResponse> responses)
      : listener_(bound_loopback_socket(true)), responses_(std::move(responses)), thread_([this] { run(); }) {}
  ~TestHttpServer() {
    stop_ = true;
    thread_.join();
  }

  std::string url(const std::string& path = "/v1/traces") const {
    return "http://127.0.0.1:" + std::to_string(port_of(listener_)) + path;
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const { return connections_; }

 private:
  // Waits up to `limit` for the fd to be readable; false on timeout or stop.
  bool wait_readable(int fd, std::chrono::steady_clock::duration limit) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  void run() {
    while (!stop_) {
      if (!wait_readable(listener_.get(), 1h)) continue;
      Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() < 0) continue;
      ++connections_;
      std::string buffer;
      while (serve_one(conn.get(), buffer)) {
      }
    }
  }

  // Reads more bytes into `buffer`; false when the peer closed, timed out or we stop.
  bool read_more(int fd, std::string& buffer) const {
    if (!wait_readable(fd, kIoLimit)) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }

  // One request and its answer; false when the connection is done.
  bool serve_one(int fd, std::string& buffer) {
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!read_more(fd, buffer)) return false;
    RecordedRequest request;
    const std::string head = buffer.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    request.method = request_line.substr(0, request_line.find(' '));
    request.target = request_line.substr(request.method.size() + 1, request_line.rfind(' ') - request.method.size() - 1);
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    const size_t length = request.headers.contains("content-length") ? std::stoul(request.headers["content-length"]) : 0;
    while (buffer.size() < head_end + 4 + length)
      if (!read_more(fd, buffer)) return false;
    request.body = buffer.substr(head_end + 4, length);
    buffer.erase(0, head_end + 4 + length);

    CannedResponse answer;
    {
      std::lock_guard lock(mutex_);
      answer = responses_.at(std::min(requests_.size(), responses_.size() - 1));
      requests_.push_back(std::move(request));
    }
    if (answer.stall) {
      // Until the client gives up (readable: EOF) or the limit.
      wait_readable(fd, kStallLimit);
      return false;
    }
    std::string out = "HTTP/1.1 " + std::to_string(answer.status) + " Canned\r\nContent-Length: " +
                      std::to_string(answer.body.size()) + "\r\n";
    for (const auto& [name, value] : answer.headers) out += name + ": " + value + "\r\n";
    out += "\r\n" + answer.body;
    return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  }

  Fd listener_;
  const std::vector<CannedResponse> responses_;
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after everything it uses exists
};

// ------------------------------------------------------------ helpers

collector::ExportTraceServiceRequest sample_request() {
  collector::ExportTraceServiceRequest request;
  auto* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\x11'));
  span->set_span_id(std::string(8, '\x22'));
  span->set_name("GET /users/{id}");
  // Repetitive text, so gzip visibly shrinks it.
  for (int i = 0; i < 50; ++i) {
    auto* attribute = span->add_attributes();
    attribute->set_key("attribute." + std::to_string(i));
    attribute->mutable_value()->set_string_value("the same value again and again");
  }
  return request;
}

OtlpSettings settings_for(const std::string& url) {
  OtlpSettings settings;
  settings.endpoint = url;
  settings.protocol = OtlpProtocol::kHttpProtobuf;
  settings.timeout = 5000ms;
  return settings;
}

ExportResult send_once(OtlpHttpTransport& transport) {
  collector::ExportTraceServiceResponse response;
  return transport.send(Signal::kTraces, sample_request().SerializeAsString(), response);
}

std::string gunzip(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1u << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::string http_date(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

// ------------------------------------------------------------ parse_retry_after

TEST(OtlpHttpRetryAfter, DelaySeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_retry_after("2", now), 2000ms);
  EXPECT_EQ(parse_retry_after(" 120 ", now), 120000ms);
  EXPECT_EQ(parse_retry_after("0", now), 0ms);
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), std::chrono::seconds(1'000'000'000));
}

TEST(OtlpHttpRetryAfter, HttpDateInAllThreeForms) {
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 s after the epoch.
  const auto now = std::chrono::system_clock::from_time_t(784111777 - 30);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 30000ms);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 30000ms);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 30000ms);
}

TEST(OtlpHttpRetryAfter, DateInThePastMeansNow) {
  const auto now = std::chrono::system_clock::from_time_t(784111777 + 3600);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 0ms);
}

TEST(OtlpHttpRetryAfter, RejectsWhatIsNeither) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.5", now), std::nullopt);
}

// ------------------------------------------------------------ construction

TEST(OtlpHttpTransport, RejectsUnusableEndpoints) {
  for (const std::string bad : {"", "localhost:4318", "ftp://host/v1/traces", "http://", "http://host:99999/v1/traces",
                                "http://host:0/v1/traces", "http://bad host/v1/traces", "grpc://host:4317"}) {
    EXPECT_THROW(OtlpHttpTransport{settings_for(bad)}, std::invalid_argument) << bad;
  }
}

TEST(OtlpHttpTransport, RejectsUnreadableCertificateFiles) {
  OtlpSettings settings = settings_for("https://127.0.0.1:4318/v1/traces");
  settings.ca_file = "/nonexistent/ca.pem";
  try {
    OtlpHttpTransport transport(settings);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("OTEL_EXPORTER_OTLP_CERTIFICATE"), std::string::npos) << e.what();
  }
  settings.ca_file.clear();
  settings.client_key_file = "/nonexistent/key.pem";  // a key without a certificate
  EXPECT_THROW(OtlpHttpTransport{settings}, std::invalid_argument);
  settings.client_cert_file = std::filesystem::temp_directory_path();  // a directory
  EXPECT_THROW(OtlpHttpTransport{settings}, std::invalid_argument);
}

TEST(OtlpHttpTransport, RejectsHeadersThatWouldBreakTheRequest) {
  OtlpSettings settings = settings_for("http://127.0.0.1:4318/v1/traces");
  settings.headers = {{"api-key", "secret\r\nX-Injected: 1"}};
  EXPECT_THROW(OtlpHttpTransport{settings}, std::invalid_argument);
  settings.headers = {{"bad name", "value"}};
  EXPECT_THROW(OtlpHttpTransport{settings}, std::invalid_argument);
}

TEST(OtlpHttpTransport, DescribesItselfWithoutThePassword) {
  EXPECT_EQ(OtlpHttpTransport(settings_for("http://127.0.0.1:4318/v1/traces")).describe(),
            "OTLP/HTTP http://127.0.0.1:4318/v1/traces");
  const std::string described = OtlpHttpTransport(settings_for("https://user:hunter2@collector/v1/traces")).describe();
  EXPECT_EQ(described.find("hunter2"), std::string::npos) << described;
  EXPECT_NE(described.find("https://user:"), std::string::npos) << described;
}

// ------------------------------------------------------------ requests

TEST(OtlpHttpTransport, PostsTheProtobufWithHeaders) {
  TestHttpServer server({CannedResponse{}});
  OtlpSettings settings = settings_for(server.url());
  settings.headers = {{"api-key", "s3cret"}, {"X-Tenant", "blue"}};
  OtlpHttpTransport transport(settings);

  const ExportResult result = send_once(transport);
  EXPECT_EQ(result.outcome, Outcome::kOk) << result.detail;

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/traces");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.headers.at("api-key"), "s3cret");
  EXPECT_EQ(r.headers.at("x-tenant"), "blue");
  EXPECT_TRUE(r.headers.at("user-agent").starts_with("spanwire/")) << r.headers.at("user-agent");
  EXPECT_FALSE(r.headers.contains("content-encoding"));
  EXPECT_FALSE(r.headers.contains("expect"));
  EXPECT_EQ(r.body, sample_request().SerializeAsString());
}

TEST(OtlpHttpTransport, GzipBodyInflatesToTheProtobuf) {
  TestHttpServer server({CannedResponse{}});
  OtlpSettings settings = settings_for(server.url());
  settings.compression = Compression::kGzip;
  OtlpHttpTransport transport(settings);

  EXPECT_EQ(send_once(transport).outcome, Outcome::kOk);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers.at("content-encoding"), "gzip");
  const std::string plain = sample_request().SerializeAsString();
  EXPECT_LT(requests[0].body.size(), plain.size());
  EXPECT_EQ(gunzip(requests[0].body), plain);
}

TEST(OtlpHttpTransport, KeepsTheConnectionAlive) {
  TestHttpServer server({CannedResponse{}});
  OtlpHttpTransport transport(settings_for(server.url()));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(send_once(transport).outcome, Outcome::kOk);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

// ------------------------------------------------------------ responses

TEST(OtlpHttpTransport, ParsesAPartialSuccess) {
  collector::ExportTraceServiceResponse canned;
  canned.mutable_partial_success()->set_rejected_spans(3);
  canned.mutable_partial_success()->set_error_message("spans too old");
  TestHttpServer server({{200, {{"Content-Type", "application/x-protobuf"}}, canned.SerializeAsString()}});
  OtlpHttpTransport transport(settings_for(server.url()));

  collector::ExportTraceServiceResponse response;
  const ExportResult result = transport.send(Signal::kTraces, sample_request().SerializeAsString(), response);
  EXPECT_EQ(result.outcome, Outcome::kOk) << result.detail;
  EXPECT_EQ(response.partial_success().rejected_spans(), 3);
  EXPECT_EQ(response.partial_success().error_message(), "spans too old");
}

TEST(OtlpHttpTransport, GzippedResponseIsDecoded) {
  collector::ExportTraceServiceResponse canned;
  canned.mutable_partial_success()->set_rejected_spans(1);
  // The server's own gzip, made with the same zlib call a collector would use.
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string plain = canned.SerializeAsString();
  std::string packed(deflateBound(&zs, plain.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(packed.data());
  zs.avail_out = static_cast<uInt>(packed.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  packed.resize(zs.total_out);
  deflateEnd(&zs);
  TestHttpServer server({{200, {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "gzip"}}, packed}});
  OtlpHttpTransport transport(settings_for(server.url()));

  collector::ExportTraceServiceResponse response;
  EXPECT_EQ(transport.send(Signal::kTraces, sample_request().SerializeAsString(), response).outcome, Outcome::kOk);
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_NE(server.requests().at(0).headers.at("accept-encoding").find("gzip"), std::string::npos);
}

TEST(OtlpHttpTransport, EmptyOrUnparseableSuccessBodyIsStillOk) {
  TestHttpServer server({{200, {}, ""}, {200, {{"Content-Type", "text/html"}}, "<html>\xff\xff</html>"}});
  OtlpHttpTransport transport(settings_for(server.url()));
  collector::ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(9);  // must be cleared
  EXPECT_EQ(transport.send(Signal::kTraces, sample_request().SerializeAsString(), response).outcome, Outcome::kOk);
  EXPECT_FALSE(response.has_partial_success());
  const ExportResult second = transport.send(Signal::kTraces, sample_request().SerializeAsString(), response);
  EXPECT_EQ(second.outcome, Outcome::kOk);
  EXPECT_FALSE(response.has_partial_success());
  EXPECT_NE(second.detail.find("text/html"), std::string::npos) << second.detail;
}

TEST(OtlpHttpTransport, ServiceUnavailableIsRetryableAfterTheServersDelay) {
  TestHttpServer server({{503, {{"Retry-After", "2"}}, ""}});
  OtlpHttpTransport transport(settings_for(server.url()));
  const ExportResult result = send_once(transport);
  EXPECT_EQ(result.outcome, Outcome::kRetryable);
  EXPECT_EQ(result.reason, "http_503");
  EXPECT_EQ(result.retry_after, 2000ms);
}

TEST(OtlpHttpTransport, RetryAfterAsHttpDate) {
  // A date in the past: retry now. (A future date would make the expected
  // value depend on the clock; parse_retry_after's tests cover that.)
  TestHttpServer server({{429, {{"Retry-After", http_date(std::time(nullptr) - 3600)}}, ""}});
  OtlpHttpTransport transport(settings_for(server.url()));
  const ExportResult result = send_once(transport);
  EXPECT_EQ(result.outcome, Outcome::kRetryable);
  EXPECT_EQ(result.reason, "http_429");
  EXPECT_EQ(result.retry_after, 0ms);
}

TEST(OtlpHttpTransport, RetryableStatusesPerTheSpecification) {
  TestHttpServer server({{502, {}, ""}, {504, {}, ""}, {500, {}, ""}, {408, {}, ""}});
  OtlpHttpTransport transport(settings_for(server.url()));
  const ExportResult bad_gateway = send_once(transport);
  EXPECT_EQ(bad_gateway.outcome, Outcome::kRetryable);
  EXPECT_EQ(bad_gateway.retry_after, std::nullopt);
  EXPECT_EQ(send_once(transport).outcome, Outcome::kRetryable);  // 504
  EXPECT_EQ(send_once(transport).outcome, Outcome::kPermanent);  // 500
  EXPECT_EQ(send_once(transport).outcome, Outcome::kPermanent);  // 408
}

TEST(OtlpHttpTransport, BadRequestIsPermanentWithTheServersMessage) {
  google::rpc::Status status;
  status.set_code(3);
  status.set_message("span 7 has an empty trace id");
  TestHttpServer server({{400, {{"Content-Type", "application/x-protobuf"}}, status.SerializeAsString()}});
  OtlpHttpTransport transport(settings_for(server.url()));
  const ExportResult result = send_once(transport);
  EXPECT_EQ(result.outcome, Outcome::kPermanent);
  EXPECT_EQ(result.reason, "http_400");
  EXPECT_NE(result.detail.find("span 7 has an empty trace id"), std::string::npos) << result.detail;
  EXPECT_EQ(result.detail.find('\n'), std::string::npos);
}

TEST(OtlpHttpTransport, HintsSayWhatToCheck) {
  TestHttpServer server({{404, {{"Content-Type", "text/plain"}}, "404 page not found\n"},
                         {401, {}, ""},
                         {415, {}, ""},
                         {301, {{"Location", "https://collector.example/v1/traces"}}, ""}});
  OtlpHttpTransport transport(settings_for(server.url("/v1/trace")));
  const ExportResult not_found = send_once(transport);
  EXPECT_EQ(not_found.reason, "http_404");
  EXPECT_NE(not_found.detail.find("/v1/traces"), std::string::npos) << not_found.detail;
  EXPECT_NE(not_found.detail.find("404 page not found"), std::string::npos) << not_found.detail;
  const ExportResult unauthorized = send_once(transport);
  EXPECT_EQ(unauthorized.outcome, Outcome::kPermanent);
  EXPECT_NE(unauthorized.detail.find("HEADERS"), std::string::npos) << unauthorized.detail;
  EXPECT_NE(send_once(transport).detail.find("protobuf"), std::string::npos);
  const ExportResult moved = send_once(transport);
  EXPECT_EQ(moved.outcome, Outcome::kPermanent);
  EXPECT_NE(moved.detail.find("https://collector.example/v1/traces"), std::string::npos) << moved.detail;
  EXPECT_EQ(server.requests().size(), 4u);  // the redirect was not followed
}

// ------------------------------------------------------------ transport errors

TEST(OtlpHttpTransport, ConnectionRefusedIsRetryable) {
  const Fd closed_port = bound_loopback_socket(false);
  OtlpHttpTransport transport(settings_for("http://127.0.0.1:" + std::to_string(port_of(closed_port)) + "/v1/traces"));
  const ExportResult result = send_once(transport);
  EXPECT_EQ(result.outcome, Outcome::kRetryable);
  EXPECT_EQ(result.reason, "connect");
  EXPECT_FALSE(result.detail.empty());
}

TEST(OtlpHttpTransport, NoAnswerInTimeIsRetryable) {
  TestHttpServer server({CannedResponse::stalling()});
  OtlpSettings settings = settings_for(server.url());
  settings.timeout = 300ms;
  OtlpHttpTransport transport(settings);
  const ExportResult result = send_once(transport);
  EXPECT_EQ(result.outcome, Outcome::kRetryable);
  EXPECT_EQ(result.reason, "timeout");
}

TEST(OtlpHttpTransport, CancelUnblocksACallInFlight) {
  TestHttpServer server({CannedResponse::stalling()});
  OtlpSettings settings = settings_for(server.url());
  settings.timeout = 60000ms;  // far beyond the server's stall: only cancel() ends the call
  OtlpHttpTransport transport(settings);

  std::thread canceller([&] {
    for (int i = 0; i < 200 && server.requests().empty(); ++i) std::this_thread::sleep_for(10ms);
    transport.cancel();
  });
  const ExportResult in_flight = send_once(transport);
  canceller.join();
  EXPECT_EQ(in_flight.reason, "cancelled");
  EXPECT_EQ(server.requests().size(), 1u);

  const ExportResult later = send_once(transport);
  EXPECT_EQ(later.reason, "cancelled");
  EXPECT_EQ(server.requests().size(), 1u);  // never sent
}

}  // namespace
}  // namespace spanwire
