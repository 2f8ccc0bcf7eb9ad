#include "cli/run_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/pipeline_stages.h"
#include "cli/stats_file.h"
#include "export/log_throttle.h"
#include "export/otlp_metrics_exporter.h"
#include "k8s/watcher.h"
#include "k8s/metadata_cache.h"
#include "metrics/health_server.h"
#include "loader/preflight.h"
#include "loader/sensor.h"
#include "metrics/metrics.h"
#include "process/process_resources.h"
#include "span/peer_namer.h"
#include "tls/library_discovery.h"
#include "tls/tls_hooks.h"
#include "util/unique_fd.h"

namespace spanwire {

namespace {
constexpr uint64_t kMs = 1'000'000;

// A degradation the loop rides out (counted by the caller): one warning per
// minute at most, however often it happens.
class Degradation {
 public:
  explicit Degradation(std::string what) : what_(std::move(what)) {}
  void report(const std::string& detail) {
    if (auto suppressed = log_.admit(LogThrottle::Clock::now()))
      spdlog::warn("{}: {}{}", what_, detail, LogThrottle::suppressed_note(*suppressed));
  }

 private:
  std::string what_;
  LogThrottle log_{std::chrono::minutes(1)};
};

void write_stats(const std::string& path, Metrics& metrics, Degradation& failures) {
  if (path.empty()) return;
  if (std::string error = write_stats_file(path, metrics); !error.empty()) {
    metrics.stats_file_errors++;
    failures.report(error + " (counted in stats_file_errors)");
  }
}

// The loop waits on the ring buffer and the stop signals at once.
UniqueFd make_epoll(std::initializer_list<int> fds) {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep) throw StartupError(std::string("cannot create the event loop (epoll_create1): ") + std::strerror(errno));
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw StartupError(std::string("cannot watch a file descriptor (epoll_ctl): ") + std::strerror(errno));
  }
  return ep;
}

// Where the Kubernetes API server is: the flags/config, else the in-cluster
// service account; nullopt outside a cluster.
std::optional<k8s::ApiConfig> kubernetes_api(const KubernetesSettings& k) {
  if (!k.enabled) return std::nullopt;
  auto getenv_fn = [](const char* name) -> const char* { return std::getenv(name); };
  std::optional<k8s::ApiConfig> api;
  if (!k.api_url.empty()) {
    api = k8s::ApiConfig{k.api_url, {}, {}, {}};
    if (const char* node = std::getenv("NODE_NAME")) api->node_name = node;
  } else {
    api = k8s::in_cluster_config(getenv_fn);
    if (!api) return std::nullopt;
  }
  if (!k.token_file.empty()) api->token_file = k.token_file;
  if (!k.ca_file.empty()) api->ca_file = k.ca_file;
  if (!k.node_name.empty()) api->node_name = k.node_name;
  return api;
}

// Workload metadata of a process's container, from the cache.
std::optional<WorkloadFacts> workload_of(const k8s::MetadataCache& cache, const CgroupIdentity& cgroup) {
  std::optional<k8s::Workload> w;
  if (!cgroup.container_id.empty()) w = cache.by_container_id(cgroup.container_id);
  if (!w && !cgroup.pod_uid.empty()) w = cache.by_pod_uid(cgroup.pod_uid, cgroup.container_id);
  if (!w) return std::nullopt;
  return WorkloadFacts{std::move(w->attributes), std::move(w->service_name), std::move(w->service_namespace),
                       std::move(w->labels)};
}

// The uprobes on one TLS library file, as links of the sensor.
class SensorProbes final : public tls::AttachedProbes {
 public:
  explicit SensorProbes(std::vector<Sensor::Link> links) : links_(std::move(links)) {}

 private:
  std::vector<Sensor::Link> links_;
};

// The Go probes on one executable, and the socket offsets they use.
class GoProbes final : public tls::AttachedProbes {
 public:
  GoProbes(Sensor& sensor, Sensor::GoAttachment attachment) : sensor_(sensor), attachment_(std::move(attachment)) {}
  ~GoProbes() override {
    attachment_.links.clear();  // detach first: no probe may still use the offsets
    sensor_.release_go(attachment_.cookie);
  }
  GoProbes(const GoProbes&) = delete;
  GoProbes& operator=(const GoProbes&) = delete;

 private:
  Sensor& sensor_;
  Sensor::GoAttachment attachment_;
};
sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

sigset_t block_stop_signals() {
  // A shell starts background jobs with SIGINT ignored, and ignored signals
  // never reach a signalfd: restore the default action first (the mask keeps
  // it from ever running).
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  const sigset_t set = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int run_pipeline(const Config& config, SpanExporter& exporter, Metrics& metrics) {
  // Signals arrive through a signalfd so the loop sees them between batches.
  // Without it SIGINT and SIGTERM, blocked since main started, could never
  // stop the sensor: that is a start-up error.
  const sigset_t mask = stop_signal_set();  // blocked by main (block_stop_signals)
  UniqueFd sigfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    spdlog::error("cannot receive stop signals (signalfd): {}; the sensor could not be stopped cleanly",
                  std::strerror(errno));
    return 2;
  }

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

  // Kubernetes: pods of this node, their owners and Services, listed and
  // watched into a local cache; resources and peer names are read from it.
  std::unique_ptr<k8s::MetadataCache> k8s_cache;
  std::unique_ptr<k8s::Watcher> k8s_watcher;
  const std::optional<k8s::ApiConfig> api = kubernetes_api(config.kubernetes);
  if (api) k8s_cache = std::make_unique<k8s::MetadataCache>();
  PipelineStages stages(config, exporter, metrics,
                        k8s_cache ? PeerNamer::Lookup([cache = k8s_cache.get()](std::string_view ip) {
                          return cache->service_name_for_ip(ip);
                        })
                                  : PeerNamer::Lookup());
  if (api) {
    k8s::Watcher::Callbacks callbacks;
    callbacks.on_list = [cache = k8s_cache.get()](k8s::Kind kind, const nlohmann::json& items) {
      cache->replace_all(kind, items);
    };
    callbacks.on_event = [cache = k8s_cache.get()](k8s::Kind kind, k8s::EventType type, const nlohmann::json& o) {
      cache->apply(kind, type, o);
    };
    spdlog::info("Kubernetes: watching pods of node {} and their workloads at {}",
                 api->node_name.empty() ? "(all nodes: NODE_NAME unset)" : api->node_name, api->base_url);
    k8s_watcher = std::make_unique<k8s::Watcher>(*api, std::move(callbacks));
    stages.resources.set_workload_lookup(
        [cache = k8s_cache.get()](const CgroupIdentity& cg) { return workload_of(*cache, cg); });
  }
  uint64_t k8s_generation = 0;
  std::unique_ptr<OtlpMetricsExporter> metrics_exporter;
  if (config.red_metrics_enabled && !config.metrics.endpoint.empty()) {
    try {
      metrics_exporter = std::make_unique<OtlpMetricsExporter>(
          make_otlp_transport(config.metrics), stages.red, config.metrics_interval,
          RetrySettings{config.retry_initial, config.retry_max_interval, config.retry_max_elapsed}, metrics);
    } catch (const std::invalid_argument& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    spdlog::info("exporting RED metrics every {} ms to {}", config.metrics_interval.count(),
                 metrics_exporter->transport().describe());
  }
  SensorOptions options;
  options.payload_cap = config.payload_cap;
  options.ringbuf_bytes = config.ringbuf_bytes;
  options.pids = config.pids;
  options.comms = config.comms;
  options.propagation = config.propagation == "tcp-option";
  options.shed = config.shed == "on";
  for (const std::string& path : config.net_namespaces) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      spdlog::error("--net-ns {}: {} (give /run/netns/NAME or /proc/PID/ns/net)", path, std::strerror(errno));
      return 2;
    }
    options.netns_inodes.push_back(static_cast<uint32_t>(st.st_ino));
  }

  uint64_t now = monotonic_now_ns();
  std::unique_ptr<Sensor> sensor;
  try {
    sensor = std::make_unique<Sensor>(options,
                                      [&](const void* data, size_t size) { stages.decoder.handle(data, size, now); });
  } catch (const StartupError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  stages.tracker.on_unknown_connection = [&](uint32_t tgid, int32_t fd) { sensor->forget_connection(tgid, fd); };
  stages.tracker.read_kernel_drops = [&] { return sensor->read_ringbuf_drops(); };
  // After attaching, so that no syscall falls between the scan and the probes.
  size_t seeded = sensor->seed_inflight_syscalls();
  spdlog::debug("{} threads were blocked in socket I/O at start and will be traced from that call", seeded);
  const size_t own = sensor->seed_own_ports();
  spdlog::debug("{} connections of the sensor's own (export, API server) are excluded from tracing", own);

  tls::Discovery discovery;
  auto tls_hooks = std::make_unique<tls::TlsHooks>(
      discovery,
      [&](const tls::Library& lib, std::string* error) -> std::unique_ptr<tls::AttachedProbes> {
        if (lib.kind == tls::LibraryKind::kGoExecutable) {
          auto go = sensor->attach_go(lib.open_path, *lib.go, error);
          if (go.links.empty()) return nullptr;
          return std::make_unique<GoProbes>(*sensor, std::move(go));
        }
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
  if (sensor->propagating())
    spdlog::info("trace context crosses hosts in a TCP option (sockets established from now on)");
  else if (!options.propagation)
    spdlog::info("trace context propagation is off (--propagation off): traces join on this host only");

  UniqueFd ep;
  try {
    ep = make_epoll({sensor->ring_buffer_fd(), sigfd.get()});
  } catch (const StartupError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  Degradation stats_failures("reading the kernel's counters failed");
  Degradation sweep_failures("sweeping exited processes from the kernel's tables failed");
  Degradation stats_file_failures("the --stats-file could not be written");
  std::unordered_set<uint32_t> exited;  // processes whose kernel state is still to be swept
  uint64_t last_tick = 0, last_stats = 0, last_calibration = monotonic_now_ns();
  bool stop = false;
  while (!stop) {
    epoll_event events[2];
    const int n = epoll_wait(ep.get(), events, 2, 100);
    if (n < 0 && errno != EINTR) {
      spdlog::error("the event loop failed (epoll_wait): {}; stopping", std::strerror(errno));
      stop = true;
    }
    for (int i = 0; i < n; ++i)
      if (events[i].data.fd == sigfd.get()) stop = true;
    now = monotonic_now_ns();
    sensor->consume();
    if (now - last_tick >= 100 * kMs) {
      stages.tick(now);
      metrics.tls_files_attached = tls_hooks->attached_files();
      if (health) health->heartbeat(HealthServer::Clock::now());
      if (k8s_cache && k8s_cache->generation() != k8s_generation) {
        k8s_generation = k8s_cache->generation();
        stages.resources.refresh();
        metrics.k8s_pods_cached = k8s_cache->pod_count();
        metrics.k8s_objects_ignored = k8s_cache->ignored();
      }
      if (k8s_watcher) {
        metrics.k8s_lists = k8s_watcher->lists();
        metrics.k8s_watch_restarts = k8s_watcher->watch_restarts();
        metrics.k8s_relists_gone = k8s_watcher->relists_410();
        metrics.k8s_api_errors = k8s_watcher->errors();
      }
      for (uint32_t pid : stages.decoder.take_execs()) tls_hooks->on_exec(pid, now);
      tls_hooks->tick(now);
      last_tick = now;
    }
    if (now - last_stats >= 1000 * kMs) {
      for (uint32_t pid : stages.decoder.take_exited()) {
        tls_hooks->on_exit(pid);
        exited.insert(pid);
      }
      if (sensor->forget_processes(exited)) {
        exited.clear();
      } else {
        metrics.kernel_sweep_errors++;
        sweep_failures.report(fmt::format("{} processes kept for the next sweep (counted in kernel_sweep_errors)",
                                          exited.size()));
      }
      if (!sensor->read_kernel_stats(metrics))
        stats_failures.report("kept their last values (counted in kernel_stats_unreadable)");
      stages.tracker.note_kernel_drops(monotonic_now_ns(), metrics.kernel_ringbuf_drops);
      write_stats(config.stats_file, metrics, stats_file_failures);
      last_stats = now;
    }
    if (now - last_calibration >= 60'000 * kMs) {
      stages.clock.recalibrate();
      last_calibration = now;
    }
    stages.end_of_pass();  // after the tick too: spans the linker released in it go now
  }

  // Output first, then detach: detaching waits for an RCU grace period per
  // tracepoint, which can take seconds on a loaded host.
  spdlog::info("stopping: flushing spans, then detaching probes");
  now = monotonic_now_ns();
  sensor->consume();
  if (!sensor->read_kernel_stats(metrics)) stats_failures.report("at shutdown");
  stages.tracker.on_unknown_connection = nullptr;
  stages.tracker.read_kernel_drops = nullptr;
  stages.tracker.close_all(now);
  metrics.connections_tracked = stages.tracker.size();
  metrics.ready = 0;
  // Releases every held span, decides every pending trace, then flushes the exporter.
  stages.linker.flush(config.shutdown_timeout);
  metrics_exporter.reset();  // one last export of the RED metrics
  write_stats(config.stats_file, metrics, stats_file_failures);
  tls_hooks.reset();  // uprobe links first: they belong to the sensor's BPF object
  sensor.reset();
  spdlog::info("all probes detached");
  return 0;
}

}  // namespace spanwire
