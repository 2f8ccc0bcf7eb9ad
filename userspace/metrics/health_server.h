// The sensor's own HTTP endpoint (--metrics-addr): Prometheus /metrics, and
// /healthz and /readyz for liveness and readiness probes. Plain POSIX sockets
// and poll on a thread of its own; one request per connection, answered with
// `Connection: close`. Small on purpose: it serves scrapers and probes, not
// browsers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "util/unique_fd.h"

namespace spanwire {

class Metrics;

class HealthServer {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // /healthz fails when the run loop has not called heartbeat() for longer.
    std::chrono::milliseconds stall_after{10000};
    // A client must send its request head within this time.
    std::chrono::milliseconds request_timeout{5000};
    // Injected for tests; the time heartbeat() is compared against.
    std::function<Clock::time_point()> now = [] { return Clock::now(); };
  };

  // Binds `address` ("host:port"; host an IPv4 address, [IPv6 address],
  // "localhost", or empty for all IPv4 interfaces; port 0 picks a free one)
  // and starts serving. Throws std::invalid_argument when the address cannot
  // be parsed and std::runtime_error when it cannot be bound, with one line
  // naming --metrics-addr.
  HealthServer(const std::string& address, const Metrics& metrics, Options options);
  HealthServer(const std::string& address, const Metrics& metrics);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // The port actually bound (differs from the requested one for port 0).
  uint16_t port() const { return port_; }

  // The run loop is alive at `now`; call it every ~100 ms. Before the first
  // call the pipeline counts as starting, not stalled (readiness covers that).
  void heartbeat(Clock::time_point now);

 private:
  using Fd = UniqueFd;
  struct Connection;

  void serve();
  // Moves one connection on after poll() reported `revents` for it; false
  // once it is finished (answered and drained, timed out, or failed).
  bool advance(Connection& c, short revents, Clock::time_point now) const;
  void accept_connections(std::vector<Connection>& connections, Clock::time_point now,
                          Clock::time_point& paused_until) const;
  // The whole response (head and body) to a complete request head.
  std::string respond(const std::string& head) const;
  std::string liveness_body(int& status) const;

  const Metrics& metrics_;
  Options options_;
  Fd listen_fd_;
  Fd wake_fd_;  // eventfd: the destructor's "stop"
  uint16_t port_ = 0;
  // Clock::rep of the last heartbeat; min(): none yet.
  std::atomic<Clock::rep> last_heartbeat_{std::numeric_limits<Clock::rep>::min()};
  std::thread thread_;
};

}  // namespace spanwire
