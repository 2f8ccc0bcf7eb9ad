#include "metrics/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "common/text.h"
#include "metrics/metrics.h"
#include "metrics/prometheus.h"
#include "util/thread_name.h"

namespace spanwire {
namespace {

// Threads answering requests: scrapes and probes come one at a time, and one
// more thread keeps a client that never finishes its request from delaying them.
constexpr size_t kServerThreads = 2;
constexpr const char* kPlainText = "text/plain; charset=utf-8";

struct BindAddress {
  std::string host;  // numeric, as getaddrinfo takes it
  int port = 0;
};

[[noreturn]] void bad_address(const std::string& address, std::string_view why) {
  throw std::invalid_argument(fmt::format("--metrics-addr {}: {}", address, why));
}

// "host:port" with host an IPv4 address, [IPv6 address], "localhost" or empty.
BindAddress parse_address(const std::string& address) {
  constexpr std::string_view kExpected = "expected host:port, e.g. 127.0.0.1:9400, [::1]:9400 or :9400";
  std::string_view host;
  std::string_view port_text;
  const bool bracketed = !address.empty() && address.front() == '[';
  if (bracketed) {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
      bad_address(address, kExpected);
    host = std::string_view(address).substr(1, close - 1);
    port_text = std::string_view(address).substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) bad_address(address, kExpected);
    host = std::string_view(address).substr(0, colon);
    port_text = std::string_view(address).substr(colon + 1);
    if (host.find(':') != std::string_view::npos) bad_address(address, "put an IPv6 address in brackets, e.g. [::1]:9400");
  }
  unsigned port = 0;
  if (!parse_whole(port_text, port) || port > 65535) bad_address(address, "the port must be a number from 0 to 65535");

  BindAddress out{std::string(host), static_cast<int>(port)};
  if (bracketed) {
    in6_addr v6{};
    if (inet_pton(AF_INET6, out.host.c_str(), &v6) != 1) bad_address(address, "not an IPv6 address inside the brackets");
  } else if (host.empty()) {
    out.host = "0.0.0.0";
  } else if (host == "localhost") {
    out.host = "127.0.0.1";
  } else if (in_addr v4{}; inet_pton(AF_INET, out.host.c_str(), &v4) != 1) {
    bad_address(address, "the host must be an IPv4 address, [IPv6 address] or localhost (names are not resolved)");
  }
  return out;
}

std::string bind_error(const std::string& address, int err) {
  switch (err) {
    case EADDRINUSE:
      return fmt::format("--metrics-addr {}: address already in use; choose another port", address);
    case EADDRNOTAVAIL:
      return fmt::format("--metrics-addr {}: no local interface has this address; use 127.0.0.1 or 0.0.0.0", address);
    case EACCES:
      return fmt::format("--metrics-addr {}: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE); "
                         "choose a port above 1023", address);
    default:
      return fmt::format("--metrics-addr {}: cannot listen: {}", address, std::strerror(err));
  }
}

void answer(httplib::Response& res, int status, const std::string& body, const char* content_type = kPlainText) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, content_type);
}

}  // namespace

HealthServer::HealthServer(const std::string& address, const Metrics& metrics)
    : HealthServer(address, metrics, Options{}) {}

HealthServer::HealthServer(const std::string& address, const Metrics& metrics, Options options)
    : metrics_(metrics), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  const BindAddress bind_to = parse_address(address);
  // httplib takes ownership of the queue it is handed (its API wants a raw pointer).
  server_->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server_->set_keep_alive_max_count(1);  // answer, then close: "Connection: close"
  // A client has request_timeout to send its request: httplib waits that
  // long (in whole seconds, at least one) for the first byte, then as long
  // for each read.
  const auto wait_s = std::max<time_t>(1, std::chrono::ceil<std::chrono::seconds>(options_.request_timeout).count());
  server_->set_keep_alive_timeout(wait_s);
  server_->set_read_timeout(options_.request_timeout);
  server_->set_write_timeout(options_.request_timeout);
  server_->set_payload_max_length(0);  // requests carry no body
  // SO_REUSEADDR lets a restarted sensor bind while old connections sit in
  // TIME_WAIT. Not httplib's default SO_REUSEPORT: with it a second sensor
  // would share the port silently instead of failing with "already in use".
  server_->set_socket_options([](int sock) {
    const int yes = 1;
    if (setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0)
      spdlog::debug("metrics endpoint: SO_REUSEADDR: {}", std::strerror(errno));
  });
  add_routes();

  errno = 0;
  const int port = bind_to.port == 0 ? server_->bind_to_any_port(bind_to.host)
                                     : (server_->bind_to_port(bind_to.host, bind_to.port) ? bind_to.port : -1);
  if (port <= 0) throw std::runtime_error(bind_error(address, errno != 0 ? errno : EINVAL));
  port_ = static_cast<uint16_t>(port);
  thread_ = std::thread([this] {
    name_this_thread("sw-metrics-http");
    if (!server_->listen_after_bind()) spdlog::error("metrics endpoint stopped: it could not serve requests");
  });
  // stop() only reaches a server that runs: wait until it does, or a stop
  // right after start would be lost and the destructor would wait forever.
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && Clock::now() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!server_->is_running()) {
    server_->stop();
    thread_.join();
    throw std::runtime_error(fmt::format("--metrics-addr {}: the server did not start", address));
  }
}

HealthServer::~HealthServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HealthServer::add_routes() {
  // Only GET (and HEAD, which httplib answers from the GET route) is served.
  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Allow", "GET, HEAD");
    answer(res, 405, "only GET and HEAD are served\n");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    answer(res, 200, render_prometheus(metrics_), std::string(kPrometheusContentType).c_str());
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    int status = 200;
    const std::string body = liveness_body(status);
    answer(res, status, body);
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (metrics_.ready.load(std::memory_order_relaxed) == 1)
      answer(res, 200, "ready\n");
    else
      answer(res, 503, "probes not attached yet\n");
  });
  // Unknown paths, and httplib's own answers to malformed requests (400, 414, ...).
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) answer(res, 404, "not found; try /metrics, /healthz or /readyz\n");
  });
}

void HealthServer::heartbeat(Clock::time_point now) {
  last_heartbeat_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

std::string HealthServer::liveness_body(int& status) const {
  const Clock::rep last = last_heartbeat_.load(std::memory_order_relaxed);
  status = 200;
  if (last == std::numeric_limits<Clock::rep>::min()) return "ok\n";  // still starting
  const auto age = options_.now() - Clock::time_point(Clock::duration(last));
  if (age <= options_.stall_after) return "ok\n";
  status = 503;
  return fmt::format("pipeline stalled: no heartbeat for {:.1f} s\n", std::chrono::duration<double>(age).count());
}

}  // namespace spanwire
