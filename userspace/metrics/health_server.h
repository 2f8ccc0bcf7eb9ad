// The sensor's own HTTP endpoint (--metrics-addr): Prometheus /metrics, and
// /healthz and /readyz for liveness and readiness probes, served by
// cpp-httplib on a small thread pool of its own. One request per connection
// (answered with `Connection: close`): it serves scrapers and probes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace spanwire {

class Metrics;

class HealthServer {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // /healthz fails when the run loop has not called heartbeat() for longer.
    std::chrono::milliseconds stall_after{10000};
    // A client must send its request within this time.
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
  void add_routes();
  // The /healthz answer: 200 "ok", or 503 naming how long the loop is silent.
  std::string liveness_body(int& status) const;

  const Metrics& metrics_;
  Options options_;
  std::unique_ptr<httplib::Server> server_;
  uint16_t port_ = 0;
  // Clock::rep of the last heartbeat; min(): none yet.
  std::atomic<Clock::rep> last_heartbeat_{std::numeric_limits<Clock::rep>::min()};
  std::thread thread_;
};

}  // namespace spanwire
