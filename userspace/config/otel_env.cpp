// The OTEL_* environment variables of the OpenTelemetry SDK specification
// ("Environment Variable Specification", "OTLP Exporter Configuration").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "config/config_layer.h"

namespace spanwire {
namespace {

using std::chrono::milliseconds;

// Follows the specification's parsing rules: an empty variable counts as
// unset, and a value that cannot be parsed is reported and then ignored.
class EnvReader {
 public:
  explicit EnvReader(const GetEnv& getenv_fn) : getenv_(getenv_fn) {}

  std::optional<std::string> text(const std::string& name) const {
    const char* v = getenv_(name.c_str());
    if (v == nullptr) return std::nullopt;
    std::string t = trim(v);
    if (t.empty()) return std::nullopt;
    return t;
  }

  std::optional<uint64_t> number(const std::string& name, std::string_view what) const {
    auto t = text(name);
    if (!t) return std::nullopt;
    auto n = parse_unsigned(*t);
    if (!n) spdlog::warn("ignoring {}='{}': not a whole number of {}", name, *t, what);
    return n;
  }

  std::optional<milliseconds> millis(const std::string& name) const {
    auto n = number(name, "milliseconds");
    if (!n) return std::nullopt;
    return milliseconds(static_cast<int64_t>(std::min<uint64_t>(*n, INT64_MAX / 1000000)));
  }

  // Only "true" (any case) is true; anything else is false, and a value
  // other than "false" is reported.
  std::optional<bool> boolean(const std::string& name) const {
    auto t = text(name);
    if (!t) return std::nullopt;
    std::string v = to_lower(*t);
    if (v != "true" && v != "false") spdlog::warn("{}='{}' is neither true nor false: taken as false", name, *t);
    return v == "true";
  }

 private:
  const GetEnv& getenv_;
};

std::string otlp_variable(std::string_view signal, std::string_view option) {
  return "OTEL_EXPORTER_OTLP_" + std::string(signal) + std::string(option);
}

// `signal` is "" (generic), "TRACES_" or "METRICS_".
OtlpLayer read_otlp(const EnvReader& env, std::string_view signal) {
  OtlpLayer out;
  out.endpoint = env.text(otlp_variable(signal, "ENDPOINT"));

  std::string name = otlp_variable(signal, "PROTOCOL");
  if (auto p = env.text(name)) {
    try {
      out.protocol = parse_protocol(*p);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(name + ": " + e.what());
    }
  }

  name = otlp_variable(signal, "HEADERS");
  if (auto h = env.text(name)) {
    try {
      out.headers = lower_case_keys(parse_key_value_list(*h));
    } catch (const std::invalid_argument&) {
      // The value is not echoed: headers carry API keys.
      spdlog::warn("ignoring {}: it must be a comma-separated list of key=value with percent-encoded values", name);
    }
  }

  out.timeout = env.millis(otlp_variable(signal, "TIMEOUT"));

  name = otlp_variable(signal, "COMPRESSION");
  if (auto c = env.text(name)) {
    try {
      out.compression = parse_compression(*c);
    } catch (const std::invalid_argument& e) {
      spdlog::warn("ignoring {}: {}", name, e.what());
    }
  }

  out.ca_file = env.text(otlp_variable(signal, "CERTIFICATE"));
  out.client_cert_file = env.text(otlp_variable(signal, "CLIENT_CERTIFICATE"));
  out.client_key_file = env.text(otlp_variable(signal, "CLIENT_KEY"));
  out.insecure = env.boolean(otlp_variable(signal, "INSECURE"));
  return out;
}

void read_resource(const EnvReader& env, ConfigLayer& layer) {
  layer.service_name = env.text("OTEL_SERVICE_NAME");
  if (auto attrs = env.text("OTEL_RESOURCE_ATTRIBUTES")) {
    try {
      layer.resource_attributes = parse_key_value_list(*attrs);
    } catch (const std::invalid_argument& e) {
      // The specification discards the whole value on any error.
      spdlog::warn("ignoring OTEL_RESOURCE_ATTRIBUTES: {} (expected key=value,key2=value2)", e.what());
    }
  }
}

void read_sampling(const EnvReader& env, ConfigLayer& layer) {
  if (auto s = env.text("OTEL_TRACES_SAMPLER")) {
    try {
      layer.sampler = parse_sampler(*s);
    } catch (const std::invalid_argument& e) {
      spdlog::warn("ignoring OTEL_TRACES_SAMPLER: {}", e.what());
    }
  }
  if (auto a = env.text("OTEL_TRACES_SAMPLER_ARG")) {
    auto ratio = parse_double(*a);
    if (ratio && *ratio >= 0 && *ratio <= 1)
      layer.sampler_ratio = ratio;
    else
      spdlog::warn("ignoring OTEL_TRACES_SAMPLER_ARG='{}': the ratio must be a number from 0 to 1", *a);
  }
}

void read_processors(const EnvReader& env, ConfigLayer& layer) {
  layer.batch_timeout = env.millis("OTEL_BSP_SCHEDULE_DELAY");
  layer.max_queue_size = env.number("OTEL_BSP_MAX_QUEUE_SIZE", "spans");
  layer.batch_size = env.number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "spans");
  layer.metrics_interval = env.millis("OTEL_METRIC_EXPORT_INTERVAL");

  // The processors' export timeouts are the fallback of the exporters' own:
  // an OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]TIMEOUT, when set, wins.
  if (!layer.otlp.timeout && !layer.traces.timeout) layer.traces.timeout = env.millis("OTEL_BSP_EXPORT_TIMEOUT");
  if (!layer.otlp.timeout && !layer.metrics.timeout) layer.metrics.timeout = env.millis("OTEL_METRIC_EXPORT_TIMEOUT");

  if (auto e = env.text("OTEL_METRICS_EXPORTER")) {
    std::string v = to_lower(*e);
    if (v == "none")
      layer.red_metrics_enabled = false;
    else if (v == "otlp")
      layer.red_metrics_enabled = true;
    else
      spdlog::warn("ignoring OTEL_METRICS_EXPORTER='{}': spanwire sends metrics over OTLP ('otlp') or not ('none')",
                   *e);
  }
}

}  // namespace

ConfigLayer read_environment(const GetEnv& getenv_fn) {
  EnvReader env(getenv_fn);
  ConfigLayer layer;
  layer.otlp = read_otlp(env, "");
  layer.traces = read_otlp(env, "TRACES_");
  layer.metrics = read_otlp(env, "METRICS_");
  read_resource(env, layer);
  read_sampling(env, layer);
  read_processors(env, layer);
  // spanwire's own: cross-host trace context, and query parameters to redact beyond the built-in list.
  if (auto names = env.text("SPANWIRE_REDACT_QUERY_PARAMS")) {
    std::vector<std::string> list;
    for (std::string_view name : split_fields(*names, ", ")) list.emplace_back(name);
    layer.redact_query_params = std::move(list);
  }
  if (auto mode = env.text("SPANWIRE_PROPAGATION")) layer.propagation = *mode;
  if (auto mode = env.text("SPANWIRE_SHED")) layer.shed = *mode;
  return layer;
}

}  // namespace spanwire
