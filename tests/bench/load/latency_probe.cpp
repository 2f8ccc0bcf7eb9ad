// Request latency at a fixed rate well below saturation: one keep-alive
// HTTP/1.1 connection, one GET every 1/RATE seconds (paced on an absolute
// schedule, so a slow answer does not lower the offered rate), each timed from
// the first byte written to the last byte of the response read.
// With CONNECTIONS > 1, as many threads share the rate, one connection each:
// an open-loop load at a fixed total rate (for completeness sweeps).
// Usage: latency_probe PORT PATH RATE COUNT [CONNECTIONS]
// Prints one JSON line: {"count":N,"p50_us":..,"p99_us":..,"max_us":..,"seconds":..}
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Reads one response with a Content-Length body; false on error.
bool read_response(int fd, std::string& buf) {
  size_t head_end = std::string::npos;
  size_t need = 0;
  char chunk[65536];
  for (;;) {
    if (head_end == std::string::npos) {
      head_end = buf.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t at = buf.find("Content-Length:");
        if (at == std::string::npos || at > head_end) at = buf.find("content-length:");
        if (at == std::string::npos || at > head_end) return false;
        need = head_end + 4 + std::strtoull(buf.c_str() + at + 15, nullptr, 10);
      }
    }
    if (head_end != std::string::npos && buf.size() >= need) {
      buf.erase(0, need);
      return true;
    }
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace

// One connection's share: `count` requests at `rate`; latencies appended to `us`.
bool run_connection(int port, const std::string& request, double rate, int count, std::vector<double>& us) {
  int fd = connect_loopback(port);
  if (fd < 0) return false;
  std::string buf;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  auto next = Clock::now();
  for (int i = 0; i < count; ++i) {
    std::this_thread::sleep_until(next);
    next += interval;
    const auto t0 = Clock::now();
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()) ||
        !read_response(fd, buf)) {
      std::fprintf(stderr, "latency_probe: connection failed after %d requests\n", i);
      close(fd);
      return false;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  close(fd);
  return true;
}

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: latency_probe PORT PATH RATE COUNT [CONNECTIONS]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string request =
      std::string("GET ") + argv[2] + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: latency_probe\r\n\r\n";
  const double rate = std::atof(argv[3]);
  const int count = std::atoi(argv[4]);
  const int connections = argc == 6 ? std::max(1, std::atoi(argv[5])) : 1;
  if (rate <= 0 || count <= 0) return 2;
  std::vector<std::vector<double>> per(static_cast<size_t>(connections));
  std::vector<char> ok(static_cast<size_t>(connections), 0);
  const auto t0 = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&, c] {
        per[c].reserve(static_cast<size_t>(count / connections + 1));
        ok[c] = run_connection(port, request, rate / connections, count / connections, per[c]);
      });
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> us;
  for (const auto& v : per) us.insert(us.end(), v.begin(), v.end());
  if (us.empty() || std::find(ok.begin(), ok.end(), 0) != ok.end()) return 1;
  std::sort(us.begin(), us.end());
  auto pct = [&us](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))]; };
  std::printf("{\"count\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"seconds\":%.3f}\n", us.size(),
              pct(0.50), pct(0.99), us.back(), seconds);
  return 0;
}
