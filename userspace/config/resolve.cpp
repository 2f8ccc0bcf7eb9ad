// Stacks the configuration layers into the effective Config.
#include <string_view>

#include "config/config_layer.h"

namespace spanwire {
namespace {

template <class T>
void take(T& dst, const std::optional<T>& src) {
  if (src) dst = *src;
}

template <class T>
void take(T& dst, const std::optional<T>& specific, const std::optional<T>& generic) {
  if (specific)
    dst = *specific;
  else if (generic)
    dst = *generic;
}

// Field by field, the highest layer that sets a value wins; within a layer the
// signal-specific value beats the generic one. Only a generic endpoint gets
// the signal path, and only once the final protocol is known.
OtlpSettings resolve_signal(const std::vector<ConfigLayer>& layers, OtlpLayer ConfigLayer::*signal,
                            std::string_view signal_path) {
  OtlpSettings out;
  bool endpoint_is_generic = false;
  std::optional<OtlpProtocol> protocol;
  for (const ConfigLayer& layer : layers) {
    const OtlpLayer& specific = layer.*signal;
    const OtlpLayer& generic = layer.otlp;
    if (specific.endpoint) {
      out.endpoint = *specific.endpoint;
      endpoint_is_generic = false;
    } else if (generic.endpoint) {
      out.endpoint = *generic.endpoint;
      endpoint_is_generic = true;
    }
    if (specific.protocol)
      protocol = specific.protocol;
    else if (generic.protocol)
      protocol = generic.protocol;
    take(out.headers, specific.headers, generic.headers);
    take(out.timeout, specific.timeout, generic.timeout);
    take(out.compression, specific.compression, generic.compression);
    take(out.ca_file, specific.ca_file, generic.ca_file);
    take(out.client_cert_file, specific.client_cert_file, generic.client_cert_file);
    take(out.client_key_file, specific.client_key_file, generic.client_key_file);
    take(out.insecure, specific.insecure, generic.insecure);
  }
  out.protocol = protocol ? *protocol : infer_protocol(out.endpoint);
  // Without a scheme the value is no HTTP URL; it is left as the user wrote
  // it so that validate() names that value.
  if (endpoint_is_generic && out.protocol == OtlpProtocol::kHttpProtobuf &&
      out.endpoint.find("://") != std::string::npos)
    out.endpoint = append_signal_path(out.endpoint, signal_path);
  return out;
}

// service.name among the resource attributes names the service unless the
// same layer names it directly (OTEL_SERVICE_NAME beats OTEL_RESOURCE_ATTRIBUTES).
void resolve_resource(const ConfigLayer& layer, Config& config) {
  std::optional<std::string> name_attribute;
  for (const auto& [key, value] : layer.resource_attributes) {
    if (key == "service.name")
      name_attribute = value;
    else
      upsert(config.resource_attributes, key, value);
  }
  if (layer.service_name)
    config.service_name = *layer.service_name;
  else if (name_attribute)
    config.service_name = *name_attribute;
}

void resolve_plain_fields(const ConfigLayer& layer, Config& c) {
  take(c.payload_cap, layer.payload_cap);
  take(c.ringbuf_bytes, layer.ringbuf_bytes);
  take(c.pids, layer.pids);
  take(c.comms, layer.comms);
  take(c.net_namespaces, layer.net_namespaces);
  take(c.propagation, layer.propagation);
  take(c.shed, layer.shed);
  take(c.redact_query_params, layer.redact_query_params);
  take(c.selection.namespaces, layer.namespaces);
  take(c.selection.pod_labels, layer.pod_labels);
  take(c.selection.containers, layer.containers);
  take(c.selection.executables, layer.executables);
  take(c.ports, layer.ports);
  take(c.link_window_ms, layer.link_window_ms);

  take(c.json_out, layer.json_out);
  take(c.batch_size, layer.batch_size);
  take(c.batch_timeout, layer.batch_timeout);
  take(c.max_queue_size, layer.max_queue_size);
  take(c.max_queue_bytes, layer.max_queue_bytes);
  take(c.export_consumers, layer.export_consumers);
  take(c.retry_initial, layer.retry_initial);
  take(c.retry_max_interval, layer.retry_max_interval);
  take(c.retry_max_elapsed, layer.retry_max_elapsed);
  take(c.shutdown_timeout, layer.shutdown_timeout);

  take(c.sampling.sampler, layer.sampler);
  take(c.sampling.ratio, layer.sampler_ratio);
  take(c.sampling.max_traces_per_second, layer.max_traces_per_second);
  take(c.sampling.keep_errors, layer.tail_keep_errors);
  take(c.sampling.keep_slower_than, layer.tail_keep_slower_than);
  take(c.sampling.tail_ratio, layer.tail_ratio);
  take(c.sampling.decision_wait, layer.tail_decision_wait);

  take(c.red_metrics_enabled, layer.red_metrics_enabled);
  take(c.metrics_interval, layer.metrics_interval);
  take(c.metrics_max_series, layer.metrics_max_series);

  take(c.kubernetes.enabled, layer.k8s_enabled);
  take(c.kubernetes.api_url, layer.k8s_api_url);
  take(c.kubernetes.token_file, layer.k8s_token_file);
  take(c.kubernetes.ca_file, layer.k8s_ca_file);
  take(c.kubernetes.node_name, layer.k8s_node_name);
  take(c.metrics_addr, layer.metrics_addr);
  take(c.stats_file, layer.stats_file);
  take(c.log_level, layer.log_level);
}

}  // namespace

Config resolve_config(const std::vector<ConfigLayer>& layers) {
  Config config;
  for (const ConfigLayer& layer : layers) {
    resolve_plain_fields(layer, config);
    resolve_resource(layer, config);
  }
  config.traces = resolve_signal(layers, &ConfigLayer::traces, "/v1/traces");
  config.metrics = resolve_signal(layers, &ConfigLayer::metrics, "/v1/metrics");
  return config;
}

Config load_config(const GetEnv& getenv_fn, const std::string& config_file, const ConfigLayer& flags) {
  std::vector<ConfigLayer> layers;
  layers.push_back(read_environment(getenv_fn));
  if (!config_file.empty()) layers.push_back(read_config_file(config_file));
  layers.push_back(flags);
  return resolve_config(layers);
}

}  // namespace spanwire
