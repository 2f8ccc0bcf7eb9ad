// One source of settings (environment, YAML file, flags) holds only what that
// source actually sets. resolve_config() stacks the layers, lowest first,
// over the built-in defaults: a higher layer beats a lower one; within one
// layer a signal-specific OTLP value beats the generic one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_values.h"

namespace spanwire {

// OTLP settings as one source gives them, for all signals (generic) or one.
struct OtlpLayer {
  std::optional<std::string> endpoint;
  std::optional<OtlpProtocol> protocol;
  std::optional<KeyValues> headers;  // replaced as a whole, not merged
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<Compression> compression;
  std::optional<std::string> ca_file;
  std::optional<std::string> client_cert_file;
  std::optional<std::string> client_key_file;
  std::optional<bool> insecure;
};

struct ConfigLayer {
  std::optional<uint32_t> payload_cap;
  std::optional<uint32_t> ringbuf_bytes;
  std::optional<std::vector<uint32_t>> pids;
  std::optional<std::vector<std::string>> comms;
  std::optional<std::vector<std::string>> net_namespaces;
  std::optional<std::string> propagation;
  std::optional<std::string> shed;
  std::optional<std::vector<std::string>> redact_query_params;
  std::optional<std::set<uint16_t>> ports;
  std::optional<std::vector<std::string>> namespaces;
  std::optional<KeyValues> pod_labels;
  std::optional<std::vector<std::string>> containers;
  std::optional<std::vector<std::string>> executables;
  std::optional<uint32_t> link_window_ms;

  std::optional<std::string> service_name;
  KeyValues resource_attributes;  // merged key by key across layers

  OtlpLayer otlp;  // generic: OTEL_EXPORTER_OTLP_*, export.*, --otlp-*
  OtlpLayer traces;
  OtlpLayer metrics;
  std::optional<std::string> json_out;
  std::optional<size_t> batch_size;
  std::optional<std::chrono::milliseconds> batch_timeout;
  std::optional<size_t> max_queue_size;
  std::optional<size_t> max_queue_bytes;
  std::optional<size_t> export_consumers;
  std::optional<std::chrono::milliseconds> retry_initial;
  std::optional<std::chrono::milliseconds> retry_max_interval;
  std::optional<std::chrono::milliseconds> retry_max_elapsed;
  std::optional<std::chrono::milliseconds> shutdown_timeout;

  std::optional<SamplerKind> sampler;
  std::optional<double> sampler_ratio;
  std::optional<double> max_traces_per_second;
  std::optional<bool> tail_keep_errors;
  std::optional<std::chrono::milliseconds> tail_keep_slower_than;
  std::optional<double> tail_ratio;
  std::optional<std::chrono::milliseconds> tail_decision_wait;

  std::optional<bool> red_metrics_enabled;
  std::optional<std::chrono::milliseconds> metrics_interval;
  std::optional<size_t> metrics_max_series;

  std::optional<bool> k8s_enabled;
  std::optional<std::string> k8s_api_url;
  std::optional<std::string> k8s_token_file;
  std::optional<std::string> k8s_ca_file;
  std::optional<std::string> k8s_node_name;

  std::optional<std::string> metrics_addr;
  std::optional<std::string> stats_file;
  std::optional<std::string> log_level;
};

using GetEnv = std::function<const char*(const char*)>;

// The standard OTEL_* variables (OpenTelemetry SDK specification). As the
// specification asks, a value that cannot be parsed is reported with
// spdlog::warn and ignored; only an unsupported protocol (http/json) throws
// std::invalid_argument, since ignoring it would send the wrong wire format.
ConfigLayer read_environment(const GetEnv& getenv_fn);

// The YAML file of `--config`. Throws std::invalid_argument with one line
// naming the file, line and key on an unknown key, a wrong type or a bad value.
ConfigLayer read_config_file(const std::string& path);

// Stacks `layers` (lowest precedence first) over the defaults of Config.
Config resolve_config(const std::vector<ConfigLayer>& layers);

// defaults < environment < config file (if `config_file` is not empty) < flags.
Config load_config(const GetEnv& getenv_fn, const std::string& config_file, const ConfigLayer& flags);

}  // namespace spanwire
