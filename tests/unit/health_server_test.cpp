#include "metrics/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "metrics/metrics.h"

namespace spanwire {
namespace {

using namespace std::chrono_literals;

// A client socket that closes itself; every wait bounded by 5 s.
class Client {
 public:
  Client(uint16_t port, bool ipv6 = false) {
    fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc;
    if (ipv6) {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(port);
      sa.sin6_addr = in6addr_loopback;
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    if (rc != 0) throw std::runtime_error(std::string("connect: ") + strerror(errno));
  }
  ~Client() { close(fd_); }

  void send_all(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<size_t>(n);
    }
  }

  // The response head and whatever arrived with it: enough for a status.
  std::string read_head() {
    std::string out;
    char buf[4096];
    while (out.find("\r\n\r\n") == std::string::npos && out.size() < (1u << 20)) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  std::string read_some() {
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // Everything until the server closes (at most 1 MiB, 5 s per read).
  std::string read_all() {
    std::string out;
    char buf[4096];
    while (out.size() < (1u << 20)) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

struct Response {
  int status = 0;
  std::string head;
  std::string body;
};

Response parse(const std::string& raw) {
  Response r;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  return r;
}

// One response: its head, then as many body bytes as Content-Length says
// (a malformed request need not end with the server closing at once).
Response request(uint16_t port, const std::string& raw_request, bool ipv6 = false) {
  Client c(port, ipv6);
  c.send_all(raw_request);
  std::string raw = c.read_head();
  Response r = parse(raw);
  const size_t length_at = r.head.find("Content-Length: ");
  if (length_at == std::string::npos || raw_request.rfind("HEAD ", 0) == 0) return r;
  const size_t length = std::stoul(r.head.substr(length_at + 16));
  while (r.body.size() < length) {
    const std::string more = c.read_some();
    if (more.empty()) break;
    r.body += more;
  }
  return r;
}

Response get(uint16_t port, const std::string& path) {
  return request(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
}

// A clock the test moves by hand.
struct FakeClock {
  std::mutex mutex;
  HealthServer::Clock::time_point now{std::chrono::seconds(1000)};
  HealthServer::Clock::time_point get() {
    std::lock_guard lock(mutex);
    return now;
  }
  void set(HealthServer::Clock::time_point t) {
    std::lock_guard lock(mutex);
    now = t;
  }
};

class HealthServerTest : public ::testing::Test {
 protected:
  HealthServer& start() {
    HealthServer::Options options;
    options.now = [this] { return clock_.get(); };
    options.request_timeout = 1s;  // a client that never ends its head is answered after it
    server_ = std::make_unique<HealthServer>("127.0.0.1:0", metrics_, options);
    return *server_;
  }

  Metrics metrics_;
  FakeClock clock_;
  std::unique_ptr<HealthServer> server_;
};

TEST_F(HealthServerTest, MetricsServesPrometheusText) {
  auto& server = start();
  ASSERT_NE(server.port(), 0);
  metrics_.spans_exported = 3;
  const Response r = get(server.port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos);
  EXPECT_NE(r.head.find("Content-Length: " + std::to_string(r.body.size())), std::string::npos);
  EXPECT_NE(r.body.find("\nspanwire_spans_exported_total 3\n"), std::string::npos);
  // A query string does not change the path.
  EXPECT_EQ(get(server.port(), "/metrics?format=text").status, 200);
}

TEST_F(HealthServerTest, HealthzFollowsTheHeartbeat) {
  auto& server = start();
  const auto t0 = clock_.get();
  // No heartbeat yet: the pipeline is starting, not stalled.
  Response r = get(server.port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");

  server.heartbeat(t0);
  clock_.set(t0 + 5s);
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);

  clock_.set(t0 + 11s);
  r = get(server.port(), "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.rfind("pipeline stalled", 0), 0u) << r.body;
  EXPECT_NE(r.body.find("11.0 s"), std::string::npos) << r.body;

  server.heartbeat(t0 + 11s);
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}

TEST_F(HealthServerTest, ReadyzFollowsTheReadyGauge) {
  auto& server = start();
  Response r = get(server.port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "probes not attached yet\n");
  metrics_.ready = 1;
  r = get(server.port(), "/readyz");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HealthServerTest, UnknownPathsMethodsAndMalformedRequests) {
  auto& server = start();
  EXPECT_EQ(get(server.port(), "/nope").status, 404);

  Response r = request(server.port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.head.find("Allow: GET, HEAD"), std::string::npos);

  EXPECT_EQ(request(server.port(), "garbage\r\n\r\n").status, 400);
  EXPECT_EQ(request(server.port(), "GET /metrics SPDY/3\r\n\r\n").status, 400);

  // A head that never ends is refused at the limit (8 KiB per line).
  Client c(server.port());
  c.send_all("GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a'));
  EXPECT_EQ(parse(c.read_head()).status, 400);
}

TEST_F(HealthServerTest, HeadHasHeadersButNoBody) {
  auto& server = start();
  const Response r = request(server.port(), "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Length: 3"), std::string::npos);
  EXPECT_EQ(r.body, "");
}

TEST_F(HealthServerTest, SplitWritesAreAccepted) {
  auto& server = start();
  Client c(server.port());
  c.send_all("GET /healthz HT");
  c.send_all("TP/1.0\r\n");
  c.send_all("\r\n");
  EXPECT_EQ(parse(c.read_all()).status, 200);
}

TEST_F(HealthServerTest, AnIdleClientDoesNotBlockOthersAndIsDropped) {
  HealthServer::Options options;
  options.request_timeout = 200ms;  // waits are whole seconds: 1 s
  HealthServer server("127.0.0.1:0", metrics_, options);
  Client idle(server.port());
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
  // The idle connection is closed by the server once its time is up
  // (the client's own read gives up after 5 s).
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(idle.read_all(), "");
  EXPECT_LT(std::chrono::steady_clock::now() - before, 4s);
}

TEST_F(HealthServerTest, PortInUseIsOneClearLine) {
  auto& server = start();
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  try {
    HealthServer second(address, metrics_);
    FAIL() << "a second server bound the same port";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "--metrics-addr " + address + ": address already in use; choose another port");
  }
}

TEST_F(HealthServerTest, InvalidAddressesAreRejected) {
  for (const char* address : {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http", "::1:9400",
                              "example.com:9400", "[::1]9400", "[nonsense]:9400", "256.0.0.1:9400"}) {
    try {
      HealthServer server(address, metrics_);
      ADD_FAILURE() << address << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind(std::string("--metrics-addr ") + address + ": ", 0), 0u) << e.what();
    }
  }
}

TEST_F(HealthServerTest, LocalhostAndIpv6Loopback) {
  HealthServer by_name("localhost:0", metrics_);
  EXPECT_EQ(get(by_name.port(), "/healthz").status, 200);

  std::unique_ptr<HealthServer> v6;
  try {
    v6 = std::make_unique<HealthServer>("[::1]:0", metrics_);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_EQ(request(v6->port(), "GET /healthz HTTP/1.1\r\n\r\n", true).status, 200);
}

}  // namespace
}  // namespace spanwire
