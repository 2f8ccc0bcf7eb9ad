// `spanwire run --print-config`: the effective settings in the config file's
// own shape, so the output can be saved and used as a --config file (after
// putting the real header values back: they are masked).
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/config_values.h"

namespace spanwire {
namespace {

constexpr const char* kMasked = "****";

void emit_key_values(YAML::Emitter& out, const char* key, const KeyValues& values, bool mask) {
  out << YAML::Key << key << YAML::Value;
  if (values.empty()) out << YAML::Flow;  // "{}" on the key's line
  out << YAML::BeginMap;
  for (const auto& [k, v] : values) out << YAML::Key << k << YAML::Value << (mask ? std::string(kMasked) : v);
  out << YAML::EndMap;
}

// The keys shared by export.traces and export.metrics; the caller closes the map.
void emit_otlp(YAML::Emitter& out, const char* key, const OtlpSettings& o) {
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "endpoint" << YAML::Value << o.endpoint;
  out << YAML::Key << "protocol" << YAML::Value << std::string(protocol_name(o.protocol));
  emit_key_values(out, "headers", o.headers, /*mask=*/true);
  out << YAML::Key << "timeout_ms" << YAML::Value << o.timeout.count();
  out << YAML::Key << "compression" << YAML::Value << std::string(compression_name(o.compression));
  out << YAML::Key << "certificate" << YAML::Value << o.ca_file;
  out << YAML::Key << "client_certificate" << YAML::Value << o.client_cert_file;
  out << YAML::Key << "client_key" << YAML::Value << o.client_key_file;
  out << YAML::Key << "insecure" << YAML::Value << o.insecure;
}

void emit_capture(YAML::Emitter& out, const Config& c) {
  out << YAML::Key << "capture" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "payload_cap" << YAML::Value << c.payload_cap;
  out << YAML::Key << "ringbuf_size" << YAML::Value << c.ringbuf_bytes;
  out << YAML::Key << "pids" << YAML::Value << YAML::Flow << c.pids;
  out << YAML::Key << "comms" << YAML::Value << YAML::Flow << c.comms;
  out << YAML::Key << "net_namespaces" << YAML::Value << YAML::Flow << c.net_namespaces;
  out << YAML::Key << "propagation" << YAML::Value << c.propagation;
  out << YAML::Key << "shed" << YAML::Value << c.shed;
  out << YAML::Key << "redact_query_params" << YAML::Value << YAML::Flow << c.redact_query_params;
  out << YAML::Key << "ports" << YAML::Value << YAML::Flow << std::vector<unsigned>(c.ports.begin(), c.ports.end());
  out << YAML::Key << "namespaces" << YAML::Value << YAML::Flow << c.selection.namespaces;
  out << YAML::Key << "pod_labels" << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : c.selection.pod_labels) out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
  out << YAML::Key << "containers" << YAML::Value << YAML::Flow << c.selection.containers;
  out << YAML::Key << "executables" << YAML::Value << YAML::Flow << c.selection.executables;
  out << YAML::EndMap;

  out << YAML::Key << "stitching" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "link_window_ms" << YAML::Value << c.link_window_ms;
  out << YAML::EndMap;

  out << YAML::Key << "service" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.service_name;
  emit_key_values(out, "resource_attributes", c.resource_attributes, /*mask=*/false);
  out << YAML::EndMap;
}

void emit_export(YAML::Emitter& out, const Config& c) {
  out << YAML::Key << "export" << YAML::Value << YAML::BeginMap;
  emit_otlp(out, "traces", c.traces);
  out << YAML::EndMap;
  emit_otlp(out, "metrics", c.metrics);
  out << YAML::Key << "enabled" << YAML::Value << c.red_metrics_enabled;
  out << YAML::Key << "interval_ms" << YAML::Value << c.metrics_interval.count();
  out << YAML::Key << "max_series" << YAML::Value << c.metrics_max_series;
  out << YAML::EndMap;

  out << YAML::Key << "batch" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_size" << YAML::Value << c.batch_size;
  out << YAML::Key << "timeout_ms" << YAML::Value << c.batch_timeout.count();
  out << YAML::Key << "max_queue_size" << YAML::Value << c.max_queue_size;
  out << YAML::Key << "max_queue_bytes" << YAML::Value << c.max_queue_bytes;
  out << YAML::Key << "consumers" << YAML::Value << c.export_consumers;
  out << YAML::EndMap;

  out << YAML::Key << "retry" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "initial_interval_ms" << YAML::Value << c.retry_initial.count();
  out << YAML::Key << "max_interval_ms" << YAML::Value << c.retry_max_interval.count();
  out << YAML::Key << "max_elapsed_ms" << YAML::Value << c.retry_max_elapsed.count();
  out << YAML::EndMap;

  out << YAML::Key << "shutdown_timeout_ms" << YAML::Value << c.shutdown_timeout.count();
  out << YAML::Key << "json_out" << YAML::Value << c.json_out;
  out << YAML::EndMap;
}

void emit_sampling(YAML::Emitter& out, const SamplingSettings& s) {
  out << YAML::Key << "sampling" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "sampler" << YAML::Value << std::string(sampler_name(s.sampler));
  out << YAML::Key << "ratio" << YAML::Value << s.ratio;
  out << YAML::Key << "max_traces_per_second" << YAML::Value << s.max_traces_per_second;
  out << YAML::Key << "tail" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "keep_errors" << YAML::Value << s.keep_errors;
  out << YAML::Key << "keep_slower_than_ms" << YAML::Value << s.keep_slower_than.count();
  out << YAML::Key << "ratio" << YAML::Value << s.tail_ratio;
  out << YAML::Key << "decision_wait_ms" << YAML::Value << s.decision_wait.count();
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void emit_kubernetes(YAML::Emitter& out, const KubernetesSettings& k) {
  out << YAML::Key << "kubernetes" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << k.enabled;
  out << YAML::Key << "api_url" << YAML::Value << k.api_url;
  out << YAML::Key << "token_file" << YAML::Value << k.token_file;
  out << YAML::Key << "ca_file" << YAML::Value << k.ca_file;
  out << YAML::Key << "node_name" << YAML::Value << k.node_name;
  out << YAML::EndMap;
}

void emit_diagnostics(YAML::Emitter& out, const Config& c) {
  out << YAML::Key << "diagnostics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "metrics_addr" << YAML::Value << c.metrics_addr;
  out << YAML::Key << "stats_file" << YAML::Value << c.stats_file;
  out << YAML::Key << "log_level" << YAML::Value << c.log_level;
  out << YAML::EndMap;
}

}  // namespace

std::string print_config(const Config& config) {
  YAML::Emitter out;
  out << YAML::Comment("spanwire effective configuration: defaults < OTEL_* environment < --config file < flags")
      << YAML::Newline << YAML::Comment("header values are masked") << YAML::Newline;
  out << YAML::BeginMap;
  emit_capture(out, config);
  emit_export(out, config);
  emit_sampling(out, config.sampling);
  emit_kubernetes(out, config.kubernetes);
  emit_diagnostics(out, config);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace spanwire
