#include "metrics/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.h"
#include "metrics/prometheus.h"

namespace spanwire {
namespace {

constexpr size_t kMaxRequestHead = 8192;
constexpr size_t kMaxConnections = 32;  // more wait in the listen backlog
constexpr auto kDrainTime = std::chrono::milliseconds(500);

struct BindAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

[[noreturn]] void bad_address(const std::string& address, std::string_view why) {
  throw std::invalid_argument(fmt::format("--metrics-addr {}: {}", address, why));
}

// "host:port" with host an IPv4 address, [IPv6 address], "localhost" or empty.
BindAddress parse_address(const std::string& address) {
  constexpr std::string_view kExpected = "expected host:port, e.g. 127.0.0.1:9400, [::1]:9400 or :9400";
  std::string_view host;
  std::string_view port_text;
  if (!address.empty() && address.front() == '[') {
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
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    bad_address(address, "the port must be a number from 0 to 65535");

  BindAddress out;
  const std::string host_str(host);
  const bool bracketed = address.front() == '[';
  if (bracketed) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host_str.c_str(), &sa->sin6_addr) != 1)
      bad_address(address, "not an IPv6 address inside the brackets");
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out.storage);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(static_cast<uint16_t>(port));
  if (host.empty()) {
    sa->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (host == "localhost") {
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (inet_pton(AF_INET, host_str.c_str(), &sa->sin_addr) != 1) {
    bad_address(address, "the host must be an IPv4 address, [IPv6 address] or localhost (names are not resolved)");
  }
  out.length = sizeof(sockaddr_in);
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

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string http_response(int status, std::string_view content_type, const std::string& body, bool head_only,
                          std::string_view extra_headers = {}) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n{}\r\n",
      status, reason_phrase(status), content_type, body.size(), extra_headers);
  if (!head_only) out += body;
  return out;
}

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

// Where the request head ends (just past the blank line), or npos.
size_t head_end(const std::string& buffer) {
  if (size_t p = buffer.find("\r\n\r\n"); p != std::string::npos) return p + 4;
  if (size_t p = buffer.find("\n\n"); p != std::string::npos) return p + 2;
  return std::string::npos;
}

}  // namespace

// One accepted client: read its request head, write the response, then read
// (and drop) whatever it still sends until it closes, so that closing our end
// never resets the connection under a response it has not read yet.
struct HealthServer::Connection {
  enum class State { kReading, kWriting, kDraining };
  Fd fd;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t sent = 0;
  Clock::time_point deadline;
};

HealthServer::HealthServer(const std::string& address, const Metrics& metrics)
    : HealthServer(address, metrics, Options{}) {}

HealthServer::HealthServer(const std::string& address, const Metrics& metrics, Options options)
    : metrics_(metrics), options_(std::move(options)) {
  const BindAddress bind_to = parse_address(address);
  listen_fd_ = Fd(socket(bind_to.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listen_fd_.get() < 0) throw std::runtime_error(bind_error(address, errno));
  // Lets a restarted sensor bind while old connections sit in TIME_WAIT; a
  // live listener on the port still makes bind() fail.
  const int one = 1;
  setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&bind_to.storage), bind_to.length) != 0 ||
      listen(listen_fd_.get(), 64) != 0)
    throw std::runtime_error(bind_error(address, errno));

  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);

  wake_fd_ = Fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake_fd_.get() < 0)
    throw std::runtime_error(fmt::format("--metrics-addr {}: cannot create an eventfd: {}", address, std::strerror(errno)));
  thread_ = std::thread([this] {
    try {
      serve();
    } catch (const std::exception& e) {
      spdlog::error("metrics endpoint stopped: {}", e.what());
    }
  });
}

HealthServer::~HealthServer() {
  const uint64_t one = 1;
  if (write(wake_fd_.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one))
    spdlog::warn("metrics endpoint: cannot wake its thread: {}", std::strerror(errno));
  if (thread_.joinable()) thread_.join();
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
  return fmt::format("pipeline stalled: no heartbeat for {:.1f} s\n",
                     std::chrono::duration<double>(age).count());
}

std::string HealthServer::respond(const std::string& head) const {
  const std::string_view line = std::string_view(head).substr(0, head.find_first_of("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0)
    return http_response(400, kPlainText, "malformed request line\n", false);
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only)
    return http_response(405, kPlainText, "only GET and HEAD are served\n", false, "Allow: GET, HEAD\r\n");

  if (target == "/metrics") return http_response(200, kPrometheusContentType, render_prometheus(metrics_), head_only);
  if (target == "/healthz") {
    int status = 200;
    const std::string body = liveness_body(status);
    return http_response(status, kPlainText, body, head_only);
  }
  if (target == "/readyz") {
    if (metrics_.ready.load(std::memory_order_relaxed) == 1) return http_response(200, kPlainText, "ready\n", head_only);
    return http_response(503, kPlainText, "probes not attached yet\n", head_only);
  }
  return http_response(404, kPlainText, "not found; try /metrics, /healthz or /readyz\n", head_only);
}

void HealthServer::serve() {
  std::vector<Connection> connections;
  std::vector<pollfd> fds;
  Clock::time_point accept_paused_until{};
  for (;;) {
    const Clock::time_point now = Clock::now();
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    const bool accepting = connections.size() < kMaxConnections && now >= accept_paused_until;
    fds.push_back({accepting ? listen_fd_.get() : -1, POLLIN, 0});  // fd -1: ignored by poll
    int timeout_ms = accepting ? -1 : 100;
    for (const auto& c : connections) {
      fds.push_back({c.fd.get(), static_cast<short>(c.state == Connection::State::kWriting ? POLLOUT : POLLIN), 0});
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(c.deadline - now).count();
      const int left_ms = static_cast<int>(std::max<int64_t>(0, left));
      timeout_ms = timeout_ms < 0 ? left_ms : std::min(timeout_ms, left_ms);
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
    }
    if (fds[0].revents != 0) return;  // the destructor asks us to stop

    const Clock::time_point after = Clock::now();
    // Before accepting: fds[i + 2] belongs to connections[i] only until new ones join.
    for (size_t i = 0; i < connections.size(); ++i)
      if (!advance(connections[i], fds[i + 2].revents, after)) connections[i].fd = Fd();
    std::erase_if(connections, [](const Connection& c) { return c.fd.get() < 0; });
    if (accepting && fds[1].revents != 0) accept_connections(connections, after, accept_paused_until);
  }
}

bool HealthServer::advance(Connection& c, short revents, Clock::time_point now) const {
  if (now >= c.deadline) return false;
  if (revents == 0) return true;
  if (c.state == Connection::State::kWriting) {
    const ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.sent += static_cast<size_t>(n);
    if (c.sent == c.out.size()) {
      shutdown(c.fd.get(), SHUT_WR);
      c.state = Connection::State::kDraining;
      c.deadline = std::min(c.deadline, now + kDrainTime);
    }
    return true;
  }
  char buf[4096];
  const ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;  // the client closed, before or after its answer
  if (c.state == Connection::State::kDraining) return true;
  c.in.append(buf, static_cast<size_t>(n));
  const size_t end = head_end(c.in);
  if (end == std::string::npos && c.in.size() <= kMaxRequestHead) return true;
  c.out = end != std::string::npos ? respond(c.in.substr(0, end))
                                   : http_response(431, kPlainText, "request head too large\n", false);
  c.in.clear();
  c.state = Connection::State::kWriting;
  c.deadline = now + options_.request_timeout;
  return true;
}

void HealthServer::accept_connections(std::vector<Connection>& connections, Clock::time_point now,
                                      Clock::time_point& paused_until) const {
  while (connections.size() < kMaxConnections) {
    const int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: let the backlog wait instead of spinning.
        spdlog::warn("metrics endpoint: cannot accept a connection: {}", std::strerror(errno));
        paused_until = now + std::chrono::milliseconds(100);
      }
      return;  // EAGAIN (backlog empty), or an error of that one connection (ECONNABORTED, ...)
    }
    Connection c;
    c.fd = Fd(fd);
    c.deadline = now + options_.request_timeout;
    connections.push_back(std::move(c));
  }
}

}  // namespace spanwire
