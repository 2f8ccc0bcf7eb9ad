#include "cli/run_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "conn/connection_tracker.h"
#include "export/otlp_metrics_exporter.h"
#include "metrics/health_server.h"
#include "metrics/red_metrics.h"
#include "intake/event_decoder.h"
#include "loader/preflight.h"
#include "loader/sensor.h"
#include "metrics/metrics.h"
#include "process/process_resources.h"
#include "span/clock.h"
#include "span/span_assembler.h"
#include "span/trace_linker.h"
#include "span/trace_sampler.h"
#include "tls/library_discovery.h"
#include "tls/tls_hooks.h"

namespace spanwire {

namespace {
constexpr uint64_t kMs = 1'000'000;

// A file descriptor that closes itself.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void write_stats(const std::string& path, const Metrics& metrics) {
  if (path.empty()) return;
  nlohmann::json j = metrics.to_json();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << '\n';
  }
  std::rename(tmp.c_str(), path.c_str());  // readers never see a half-written file
}

// The uprobes on one TLS library file, as links of the sensor.
class SensorProbes final : public tls::AttachedProbes {
 public:
  explicit SensorProbes(std::vector<Sensor::Link> links) : links_(std::move(links)) {}

 private:
  std::vector<Sensor::Link> links_;
};
}  // namespace

int run_pipeline(const Config& config, SpanExporter& exporter, Metrics& metrics) {
  // Signals arrive through a signalfd so the loop sees them between batches.
  // A shell starts background jobs with SIGINT ignored, and ignored signals
  // never reach a signalfd: restore the default action first (the mask below
  // keeps it from ever running).
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  Fd sigfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));

  // The sensor's own endpoint first: a port already taken is a start-up error.
  std::unique_ptr<HealthServer> health;
  if (!config.metrics_addr.empty()) {
    try {
      health = std::make_unique<HealthServer>(config.metrics_addr, metrics);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    spdlog::info("serving /metrics, /healthz and /readyz on {}", config.metrics_addr);
  }

  // Spans flow: builder -> linker -> RED metrics (every span) -> sampler -> exporter.
  MonotonicToUnix clock;
  IdGenerator ids;
  SpanBuilder builder(clock, ids);
  ProcessResources resources("/proc", {config.service_name, config.resource_attributes});
  TraceSampler sampler(exporter, metrics, config.sampling);
  RedMetrics red(config.metrics_max_series, metrics);
  RedMetricsTap red_tap(red, sampler);
  TraceLinker linker(red_tap, metrics, {.window_ns = uint64_t(config.link_window_ms) * kMs});
  std::unique_ptr<OtlpMetricsExporter> metrics_exporter;
  if (config.red_metrics_enabled && !config.metrics.endpoint.empty()) {
    try {
      metrics_exporter = std::make_unique<OtlpMetricsExporter>(
          make_otlp_transport(config.metrics), red, config.metrics_interval,
          RetrySettings{config.retry_initial, config.retry_max_interval, config.retry_max_elapsed}, metrics);
    } catch (const std::invalid_argument& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    spdlog::info("exporting RED metrics every {} ms to {}", config.metrics_interval.count(),
                 metrics_exporter->transport().describe());
  }
  SpanAssembler assembler(builder, resources, linker, metrics);
  assembler.set_port_filter(config.ports);
  ConnectionTracker tracker({}, metrics, assembler);
  EventDecoder decoder(tracker, metrics);

  SensorOptions options;
  options.payload_cap = config.payload_cap;
  options.ringbuf_bytes = config.ringbuf_bytes;
  options.pids = config.pids;
  options.comms = config.comms;

  uint64_t now = monotonic_now_ns();
  std::unique_ptr<Sensor> sensor;
  try {
    sensor = std::make_unique<Sensor>(options, [&](const void* data, size_t size) { decoder.handle(data, size, now); });
  } catch (const StartupError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  tracker.on_unknown_connection = [&](uint32_t tgid, int32_t fd) { sensor->forget_connection(tgid, fd); };
  // After attaching, so that no syscall falls between the scan and the probes.
  size_t seeded = sensor->seed_inflight_syscalls();
  spdlog::debug("{} threads were blocked in socket I/O at start and will be traced from that call", seeded);

  tls::Discovery discovery;
  auto tls_hooks = std::make_unique<tls::TlsHooks>(
      discovery,
      [&](const tls::Library& lib, std::string* error) -> std::unique_ptr<tls::AttachedProbes> {
        auto links = sensor->attach_tls(lib.open_path, lib.symbols.names(), error);
        if (links.empty()) return nullptr;
        return std::make_unique<SensorProbes>(std::move(links));
      },
      metrics, static_cast<uint32_t>(getpid()));
  tls_hooks->start(monotonic_now_ns());
  metrics.hooks_attached = sensor->attached_hooks().size();
  metrics.tls_files_attached = tls_hooks->attached_files();
  metrics.ready = 1;
  // Logged once everything is attached: tests and users take it as "ready".
  spdlog::info("spanwire {} tracing: {} hooks attached ({}), TLS uprobes on {} library files (`spanwire doctor` "
               "lists them), payload cap {} bytes, ring buffer {} MiB",
               SPANWIRE_VERSION, sensor->attached_hooks().size(), fmt::join(sensor->attached_hooks(), ", "),
               tls_hooks->attached_files(), config.payload_cap, config.ringbuf_bytes >> 20);

  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  for (int fd : {sensor->ring_buffer_fd(), sigfd.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  uint64_t last_tick = 0, last_stats = 0, last_calibration = monotonic_now_ns();
  bool stop = false;
  while (!stop) {
    epoll_event events[2];
    int n = epoll_wait(ep.get(), events, 2, 100);
    for (int i = 0; i < n; ++i)
      if (events[i].data.fd == sigfd.get()) stop = true;
    now = monotonic_now_ns();
    sensor->consume();
    if (now - last_tick >= 100 * kMs) {
      tracker.tick(now);
      linker.tick(now);
      sampler.tick(now);
      metrics.connections_tracked = tracker.size();
      metrics.spans_held_linker = linker.held();
      metrics.spans_held_sampler = sampler.held();
      metrics.tls_files_attached = tls_hooks->attached_files();
      if (health) health->heartbeat(HealthServer::Clock::now());
      for (uint32_t pid : decoder.take_execs()) tls_hooks->on_exec(pid, now);
      tls_hooks->tick(now);
      last_tick = now;
    }
    if (now - last_stats >= 1000 * kMs) {
      std::unordered_set<uint32_t> exited = decoder.take_exited();
      for (uint32_t pid : exited) tls_hooks->on_exit(pid);
      sensor->forget_processes(exited);
      sensor->read_kernel_stats(metrics);
      write_stats(config.stats_file, metrics);
      last_stats = now;
    }
    if (now - last_calibration >= 60'000 * kMs) {
      clock.recalibrate();
      last_calibration = now;
    }
  }

  // Output first, then detach: detaching waits for an RCU grace period per
  // tracepoint, which can take seconds on a loaded host.
  spdlog::info("stopping: flushing spans, then detaching probes");
  now = monotonic_now_ns();
  sensor->consume();
  sensor->read_kernel_stats(metrics);
  tracker.on_unknown_connection = nullptr;
  tracker.close_all(now);
  metrics.connections_tracked = tracker.size();
  metrics.ready = 0;
  // Releases every held span, decides every pending trace, then flushes the exporter.
  linker.flush(config.shutdown_timeout);
  metrics_exporter.reset();  // one last export of the RED metrics
  write_stats(config.stats_file, metrics);
  tls_hooks.reset();  // uprobe links first: they belong to the sensor's BPF object
  sensor.reset();
  spdlog::info("all probes detached");
  return 0;
}

}  // namespace spanwire
