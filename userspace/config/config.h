// The sensor's settings. Sources, lowest to highest precedence: built-in
// defaults, the standard OTEL_* environment variables (OpenTelemetry SDK
// specification), the YAML file given with --config, command-line flags.
// The only mutable state shared across the daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace spanwire {

enum class OtlpProtocol { kGrpc, kHttpProtobuf };
enum class Compression { kNone, kGzip };

// Where and how one signal (traces or metrics) is exported over OTLP.
struct OtlpSettings {
  // Empty: no OTLP export (spans are printed). For gRPC "scheme://host:port"
  // or "host:port"; for HTTP the full URL including the signal path
  // (".../v1/traces"), already resolved by the environment rules.
  std::string endpoint;
  OtlpProtocol protocol = OtlpProtocol::kGrpc;
  std::vector<std::pair<std::string, std::string>> headers;  // API keys etc.; secrets
  std::chrono::milliseconds timeout{10000};
  Compression compression = Compression::kNone;
  std::string ca_file;           // PEM roots; empty: the system's
  std::string client_cert_file;  // PEM, mTLS
  std::string client_key_file;   // PEM, mTLS
  // gRPC only, when the endpoint has no scheme: plaintext instead of TLS.
  bool insecure = false;
};

enum class SamplerKind {
  kAlwaysOn,
  kAlwaysOff,
  kTraceIdRatio,
  kParentBasedAlwaysOn,
  kParentBasedAlwaysOff,
  kParentBasedTraceIdRatio,
};

struct SamplingSettings {
  // Head: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (spec default parentbased_always_on).
  SamplerKind sampler = SamplerKind::kParentBasedAlwaysOn;
  double ratio = 1.0;  // for the *traceidratio samplers
  // Ceiling on kept traces per second (0: none).
  double max_traces_per_second = 0;
  // Tail rules, decided on a whole local trace once it has been quiet for decision_wait.
  bool keep_errors = true;
  std::chrono::milliseconds keep_slower_than{0};  // 0: off
  double tail_ratio = 1.0;                         // of the traces no rule kept
  std::chrono::milliseconds decision_wait{500};
};

// Workload metadata from the Kubernetes API server (in a cluster: the
// service account's token and CA, KUBERNETES_SERVICE_HOST; NODE_NAME from the
// downward API). Empty fields: the in-cluster defaults.
struct KubernetesSettings {
  bool enabled = true;     // used only where an API server is found
  std::string api_url;     // e.g. https://10.96.0.1:443
  std::string token_file;  // bearer token, re-read on every reconnect
  std::string ca_file;     // PEM roots that verify the API server
  std::string node_name;   // only this node's pods are watched
};

// Which processes' spans are reported, beyond the kernel filters (pids,
// comms) and ports. Each non-empty criterion must match; within one, any entry.
// The Kubernetes criteria match only processes in a known pod.
struct ProcessSelection {
  std::vector<std::string> namespaces;                        // k8s.namespace.name
  std::vector<std::pair<std::string, std::string>> pod_labels;  // all must be on the pod
  std::vector<std::string> containers;                        // k8s.container.name
  std::vector<std::string> executables;                       // executable file name
  bool empty() const { return namespaces.empty() && pod_labels.empty() && containers.empty() && executables.empty(); }
};

struct Config {
  // Capture
  uint32_t payload_cap = 16384;        // bytes copied per syscall event
  uint32_t ringbuf_bytes = 16u << 20;  // kernel -> userspace ring buffer
  std::vector<uint32_t> pids;          // trace only these processes
  std::vector<std::string> comms;      // trace only these process names
  // Trace only sockets (and so processes) in these network namespaces: paths
  // such as /run/netns/NAME or /proc/PID/ns/net. Empty: every namespace.
  std::vector<std::string> net_namespaces;
  // How trace context crosses hosts: "tcp-option" (the kernel stamps a TCP
  // option on requests, when the kernel and permissions allow) or "off".
  std::string propagation = "tcp-option";
  // When userspace falls behind: "on" sheds whole connections in the kernel
  // before anything is copied (bpf/shed.bpf.h); "off" lets the ring buffer
  // overflow and lose events at random.
  std::string shed = "on";
  std::set<uint16_t> ports;            // report only connections on these ports
  ProcessSelection selection;          // report only these processes' spans
  // Query parameters whose values become REDACTED in url.query and url.full,
  // beyond the built-in list (protocols/http/url_redaction.h).
  std::vector<std::string> redact_query_params;

  // Stitching: how long a finished span waits for the other spans of its trace
  uint32_t link_window_ms = 1000;

  // Resource: OTEL_SERVICE_NAME (default for processes without a name of their
  // own) and OTEL_RESOURCE_ATTRIBUTES (added to every resource).
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> resource_attributes;

  // Export
  OtlpSettings traces;
  OtlpSettings metrics;  // RED metrics; endpoint empty: not exported
  std::string json_out;  // also write JSON lines here ("-" = stdout)
  size_t batch_size = 512;                       // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  std::chrono::milliseconds batch_timeout{1000};  // OTEL_BSP_SCHEDULE_DELAY
  size_t max_queue_size = 8192;                  // OTEL_BSP_MAX_QUEUE_SIZE
  size_t max_queue_bytes = 64u << 20;            // memory ceiling of the export queue
  size_t export_consumers = 4;                   // export calls in flight at most
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max_interval{30000};
  std::chrono::milliseconds retry_max_elapsed{300000};  // then the batch is dropped, counted
  std::chrono::milliseconds shutdown_timeout{5000};

  SamplingSettings sampling;

  // RED metrics of the traced services, sent as OTLP metrics.
  bool red_metrics_enabled = true;  // --no-red-metrics, OTEL_METRICS_EXPORTER=none
  std::chrono::milliseconds metrics_interval{60000};  // OTEL_METRIC_EXPORT_INTERVAL
  size_t metrics_max_series = 2000;                   // further series fold into an overflow series

  KubernetesSettings kubernetes;

  // Diagnostics
  std::string metrics_addr;  // "host:port" of the Prometheus /metrics, /healthz, /readyz endpoint; empty: off
  std::string stats_file;    // rewritten every second with the sensor's counters (JSON)
  std::string log_level = "info";
};

// Reading the environment, the YAML file and the flags, and stacking them:
// config/config_layer.h (load_config).

// The effective settings as YAML in the config file's own shape, with header
// values masked, for `spanwire run --print-config`.
std::string print_config(const Config& config);

// Checks values a user can get wrong; throws std::invalid_argument with one line.
void validate(const Config& config);

}  // namespace spanwire
