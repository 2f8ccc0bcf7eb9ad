#include "cli/flags.h"

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>

namespace spanwire {
namespace {

using std::chrono::milliseconds;

const Config kDefaults;

// Checks a flag's text with the parser the other sources use, so every
// source accepts and rejects the same spellings with the same message.
template <class Parse>
CLI::Validator parsed_by(Parse parse, std::string description) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        try {
          parse(text);
          return {};
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
      },
      std::move(description));
}

// CLI11 reads "-5" into an unsigned type as a huge number; refuse it instead.
const CLI::Validator kNotNegative(
    [](std::string& text) -> std::string {
      return text.find('-') == std::string::npos ? std::string() : "must not be negative";
    },
    "");

// Bounded so that conversions to nanoseconds cannot overflow.
const CLI::Validator kMillis(
    [](std::string& text) -> std::string {
      auto ms = parse_unsigned(text);
      return ms && *ms <= (uint64_t{1} << 43) ? std::string() : "must be a whole number of milliseconds";
    },
    "");

const CLI::Validator kKeyValue = parsed_by([](const std::string& t) { split_key_value(t); }, "KEY=VALUE");

template <class T, class Dst>
CLI::Option* option(CLI::App& cmd, const std::string& name, std::optional<Dst>& dst, const std::string& help) {
  return cmd.add_option_function<T>(
      name, [&dst](const T& v) { dst = Dst(v); }, help);
}

CLI::Option* millis_option(CLI::App& cmd, const std::string& name, std::optional<milliseconds>& dst,
                           const std::string& help, milliseconds fallback) {
  return cmd
      .add_option_function<uint64_t>(
          name, [&dst](const uint64_t& ms) { dst = milliseconds(static_cast<int64_t>(ms)); }, help)
      ->check(kMillis)
      ->type_name("MS")
      ->default_str(std::to_string(fallback.count()));
}

void add_otlp_flags(CLI::App& cmd, ConfigLayer& layer) {
  option<std::string>(cmd, "--otlp-endpoint", layer.otlp.endpoint,
                      "OTLP collector for all signals, like OTEL_EXPORTER_OTLP_ENDPOINT: for http/protobuf a base "
                      "URL that gets /v1/traces or /v1/metrics appended, for grpc host:port or http(s)://host:port "
                      "(none: spans are printed)");
  option<std::string>(cmd, "--otlp-traces-endpoint", layer.traces.endpoint,
                      "OTLP endpoint for spans only, used as is (e.g. http://host:4318/v1/traces)");
  option<std::string>(cmd, "--otlp-metrics-endpoint", layer.metrics.endpoint,
                      "OTLP endpoint for RED metrics only, used as is (e.g. http://host:4318/v1/metrics)");
  cmd.add_option_function<std::string>(
         "--otlp-protocol", [&layer](const std::string& p) { layer.otlp.protocol = parse_protocol(p); },
         "grpc or http/protobuf (default: inferred from the endpoint's port, 4317 grpc, else http/protobuf)")
      ->check(parsed_by(parse_protocol, "PROTOCOL"));
  cmd.add_option_function<std::vector<std::string>>(
         "--otlp-header",
         [&layer](const std::vector<std::string>& items) {
           KeyValues headers;
           for (const auto& item : items) {
             auto [k, v] = split_key_value(item);
             upsert(headers, std::move(k), std::move(v));
           }
           layer.otlp.headers = lower_case_keys(std::move(headers));
         },
         "Header sent with every export, e.g. api-key=SECRET (repeatable; replaces OTEL_EXPORTER_OTLP_HEADERS)")
      ->check(kKeyValue);
  millis_option(cmd, "--otlp-timeout-ms", layer.otlp.timeout, "Longest wait for one export call",
                kDefaults.traces.timeout);
  cmd.add_option_function<std::string>(
         "--otlp-compression", [&layer](const std::string& c) { layer.otlp.compression = parse_compression(c); },
         "gzip or none")
      ->check(parsed_by(parse_compression, "COMPRESSION"))
      ->default_str("none");
  option<std::string>(cmd, "--otlp-certificate", layer.otlp.ca_file,
                      "PEM file of the CA certificates that verify the collector (default: the system's)");
  option<std::string>(cmd, "--otlp-client-certificate", layer.otlp.client_cert_file,
                      "PEM client certificate for mTLS (needs --otlp-client-key)");
  option<std::string>(cmd, "--otlp-client-key", layer.otlp.client_key_file, "PEM private key for mTLS");
  cmd.add_flag_function(
      "--otlp-insecure", [&layer](int64_t n) { layer.otlp.insecure = n > 0; },
      "gRPC endpoints without a scheme: plaintext instead of TLS");
}

void add_export_flags(CLI::App& cmd, ConfigLayer& layer) {
  option<std::string>(cmd, "--json-out", layer.json_out,
                      "Also write spans as JSON lines to this file ('-': stdout only)");
  option<size_t>(cmd, "--batch-size", layer.batch_size, "Spans per export call at most")
      ->check(kNotNegative)
      ->default_str(std::to_string(kDefaults.batch_size));
  millis_option(cmd, "--batch-timeout-ms", layer.batch_timeout, "Longest wait before a partial batch is sent",
                kDefaults.batch_timeout);
  option<size_t>(cmd, "--max-queue-size", layer.max_queue_size,
                 "Spans waiting for export at most; beyond, the oldest are dropped")
      ->check(kNotNegative)
      ->default_str(std::to_string(kDefaults.max_queue_size));
  cmd.add_option_function<uint64_t>(
         "--max-queue-mib", [&layer](const uint64_t& mib) { layer.max_queue_bytes = static_cast<size_t>(mib << 20); },
         "Memory ceiling of the export queue in MiB")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))
      ->default_str(std::to_string(kDefaults.max_queue_bytes >> 20));
  option<size_t>(cmd, "--export-consumers", layer.export_consumers,
                 "Export calls in flight at most (each its own connection and retries)")
      ->check(kNotNegative)
      ->default_str(std::to_string(kDefaults.export_consumers));
  millis_option(cmd, "--retry-max-elapsed-ms", layer.retry_max_elapsed,
                "How long a failed batch is retried before it is dropped (and counted)", kDefaults.retry_max_elapsed);
}

void add_resource_flags(CLI::App& cmd, ConfigLayer& layer) {
  option<std::string>(cmd, "--service-name", layer.service_name,
                      "service.name of processes without a name of their own (like OTEL_SERVICE_NAME)");
  cmd.add_option_function<std::vector<std::string>>(
         "--resource-attribute",
         [&layer](const std::vector<std::string>& items) {
           for (const auto& item : items) {
             auto [k, v] = split_key_value(item);
             upsert(layer.resource_attributes, std::move(k), std::move(v));
           }
         },
         "Attribute added to every resource, e.g. deployment.environment=prod (repeatable)")
      ->check(kKeyValue);
}

void add_sampling_flags(CLI::App& cmd, ConfigLayer& layer) {
  cmd.add_option_function<std::string>(
         "--sampler", [&layer](const std::string& s) { layer.sampler = parse_sampler(s); },
         "Head sampler: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, "
         "parentbased_traceidratio")
      ->check(parsed_by(parse_sampler, "SAMPLER"))
      ->default_str(std::string(sampler_name(kDefaults.sampling.sampler)));
  option<double>(cmd, "--sampler-arg", layer.sampler_ratio, "Ratio of traces the *traceidratio samplers keep")
      ->check(CLI::Range(0.0, 1.0))
      ->default_str("1");
  option<double>(cmd, "--max-traces-per-second", layer.max_traces_per_second, "Ceiling on kept traces (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("0");
  cmd.add_flag_function(
      "--tail-keep-errors,!--no-tail-keep-errors", [&layer](int64_t n) { layer.tail_keep_errors = n > 0; },
      "Always keep traces with an error span (default: on)");
  millis_option(cmd, "--tail-keep-slower-than-ms", layer.tail_keep_slower_than,
                "Always keep traces whose root is slower than this (0: off)", kDefaults.sampling.keep_slower_than);
  option<double>(cmd, "--tail-ratio", layer.tail_ratio, "Ratio kept of the traces no tail rule kept")
      ->check(CLI::Range(0.0, 1.0))
      ->default_str("1");
}

void add_kubernetes_flags(CLI::App& cmd, ConfigLayer& layer) {
  option<std::string>(cmd, "--k8s-api", layer.k8s_api_url,
                      "Kubernetes API server URL (default in a cluster: https://$KUBERNETES_SERVICE_HOST:PORT)");
  option<std::string>(cmd, "--k8s-token-file", layer.k8s_token_file,
                      "Bearer token file for the API server (default: the service account's)");
  option<std::string>(cmd, "--k8s-ca-file", layer.k8s_ca_file,
                      "PEM CA file that verifies the API server (default: the service account's)");
  option<std::string>(cmd, "--node-name", layer.k8s_node_name,
                      "This node's name: only its pods are watched (default: $NODE_NAME)");
  cmd.add_flag_callback(
      "--no-k8s", [&layer] { layer.k8s_enabled = false; }, "Do not read workload metadata from the Kubernetes API");
}

void add_metrics_flags(CLI::App& cmd, ConfigLayer& layer) {
  option<std::string>(cmd, "--metrics-addr", layer.metrics_addr,
                      "host:port for the sensor's Prometheus /metrics, /healthz and /readyz (default: off)");
  millis_option(cmd, "--metrics-interval-ms", layer.metrics_interval, "How often RED metrics are exported",
                kDefaults.metrics_interval);
  cmd.add_flag_callback(
      "--no-red-metrics", [&layer] { layer.red_metrics_enabled = false; },
      "Do not export RED metrics of the traced services");
}

}  // namespace

void add_trace_flags(CLI::App& cmd, ConfigLayer& layer, CommandFlags& command) {
  cmd.add_option("--config", command.config_file,
                 "YAML config file; its values beat OTEL_* variables, flags beat both (see docs/CONFIGURATION.md)");
  option<std::vector<uint32_t>>(cmd, "--pid", layer.pids, "Trace only these process ids (repeatable)");
  option<std::vector<std::string>>(cmd, "--comm", layer.comms,
                                   "Trace only processes with this name (repeatable, 15 characters at most)");
  option<std::vector<std::string>>(cmd, "--net-ns", layer.net_namespaces,
                                   "Trace only sockets in the network namespace at this path, e.g. /run/netns/NAME "
                                   "or /proc/PID/ns/net (repeatable)");
  option<std::string>(cmd, "--propagation", layer.propagation,
                      "Carry trace context across hosts in a TCP option (tcp-option), or not (off)")
      ->check(CLI::IsMember({"tcp-option", "off"}))
      ->default_str(kDefaults.propagation);
  option<std::string>(cmd, "--shed", layer.shed,
                      "When userspace falls behind, stop tracing whole connections in the kernel (on) rather than "
                      "lose events at random from a full ring buffer (off)")
      ->check(CLI::IsMember({"on", "off"}))
      ->default_str(kDefaults.shed);
  option<std::vector<std::string>>(cmd, "--redact-query-param", layer.redact_query_params,
                                   "Also replace this query parameter's value by REDACTED in url.query and url.full "
                                   "(repeatable; api_key, token, password, sig and others always are)");
  option<std::vector<std::string>>(cmd, "--namespace", layer.namespaces,
                                   "Report only processes in pods of this Kubernetes namespace (repeatable)");
  cmd.add_option_function<std::vector<std::string>>(
         "--pod-label",
         [&layer](const std::vector<std::string>& items) {
           KeyValues labels;
           for (const auto& item : items) {
             auto [k, v] = split_key_value(item);
             upsert(labels, std::move(k), std::move(v));
           }
           layer.pod_labels = std::move(labels);
         },
         "Report only processes in pods with this label (repeatable: all must match)")
      ->check(kKeyValue);
  option<std::vector<std::string>>(cmd, "--container", layer.containers,
                                   "Report only processes of Kubernetes containers with this name (repeatable)");
  option<std::vector<std::string>>(cmd, "--exe", layer.executables,
                                   "Report only processes running this executable file name (repeatable)");
  cmd.add_option_function<std::vector<uint16_t>>(
         "--port",
         [&layer](const std::vector<uint16_t>& ports) { layer.ports = std::set<uint16_t>(ports.begin(), ports.end()); },
         "Report only connections with this local or remote port (repeatable)")
      ->check(CLI::Range(1, 65535));
  option<uint32_t>(cmd, "--payload-cap", layer.payload_cap, "Bytes of payload copied per syscall")
      ->default_str(std::to_string(kDefaults.payload_cap));
  option<uint32_t>(cmd, "--ringbuf-size", layer.ringbuf_bytes, "Kernel ring buffer size in bytes (power of two)")
      ->default_str(std::to_string(kDefaults.ringbuf_bytes));
  option<uint32_t>(cmd, "--link-window-ms", layer.link_window_ms,
                   "How long a finished span waits for its partners (client/server, caller/callee) before export")
      ->check(CLI::Range(0u, 60000u))
      ->default_str(std::to_string(kDefaults.link_window_ms));
  option<std::string>(cmd, "--stats-file", layer.stats_file,
                      "Write the sensor's counters as JSON to this file every second");
  option<std::string>(cmd, "--log-level", layer.log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->default_str(kDefaults.log_level);
}

void add_run_flags(CLI::App& cmd, ConfigLayer& layer, CommandFlags& command) {
  add_trace_flags(cmd, layer, command);
  add_otlp_flags(cmd, layer);
  add_export_flags(cmd, layer);
  add_resource_flags(cmd, layer);
  add_sampling_flags(cmd, layer);
  add_metrics_flags(cmd, layer);
  add_kubernetes_flags(cmd, layer);
  cmd.add_flag("--print-config", command.print_config,
               "Print the effective configuration (all sources applied, secrets masked) as YAML and exit");
}

}  // namespace spanwire
