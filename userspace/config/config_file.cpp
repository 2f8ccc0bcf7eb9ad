// The YAML configuration file (`spanwire run --config FILE`); its shape is
// documented in docs/CONFIGURATION.md. Strict on purpose: a misspelt key
// silently ignored would leave a setting at a value the user did not choose.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config/config_layer.h"

namespace spanwire {
namespace {

using std::chrono::milliseconds;

// Where a value sits: its dotted key ("export.traces.endpoint") and line.
struct Field {
  std::string key;
  YAML::Mark mark;
};

class ConfigFileReader {
 public:
  explicit ConfigFileReader(std::string path) : path_(std::move(path)) {}

  ConfigLayer read() {
    YAML::Node root = load();
    if (root.IsNull()) return layer_;  // an empty file sets nothing
    if (!root.IsMap()) fail(root.Mark(), "the file must be a map of sections (capture, export, ...)");
    each_key(root, "",
             {
                 {"capture", [this](const YAML::Node& v, const Field& f) { read_capture(v, f); }},
                 {"stitching", [this](const YAML::Node& v, const Field& f) { read_stitching(v, f); }},
                 {"service", [this](const YAML::Node& v, const Field& f) { read_service(v, f); }},
                 {"export", [this](const YAML::Node& v, const Field& f) { read_export(v, f); }},
                 {"sampling", [this](const YAML::Node& v, const Field& f) { read_sampling(v, f); }},
                 {"kubernetes", [this](const YAML::Node& v, const Field& f) { read_kubernetes(v, f); }},
                 {"diagnostics", [this](const YAML::Node& v, const Field& f) { read_diagnostics(v, f); }},
             });
    return layer_;
  }

 private:
  using Handler = std::function<void(const YAML::Node&, const Field&)>;
  using Handlers = std::vector<std::pair<std::string, Handler>>;

  YAML::Node load() const {
    std::ifstream in(path_);
    if (!in) throw std::invalid_argument("cannot read config file " + path_ + ": " + std::strerror(errno));
    std::stringstream text;
    text << in.rdbuf();
    try {
      return YAML::Load(text.str());
    } catch (const YAML::ParserException& e) {
      fail(e.mark, "not valid YAML: " + e.msg);
    }
  }

  [[noreturn]] void fail(const YAML::Mark& at, const std::string& problem) const {
    std::string where = path_;
    if (!at.is_null()) where += ":" + std::to_string(at.line + 1);
    throw std::invalid_argument(where + ": " + problem);
  }

  [[noreturn]] void fail(const Field& f, const std::string& problem) const { fail(f.mark, f.key + ": " + problem); }

  // Calls the handler of every key of `map`; a key without a handler, or
  // given twice, is an error. A key without a value counts as left out.
  void each_key(const YAML::Node& map, const std::string& section, const Handlers& handlers) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
      std::string key = section.empty() ? name : section + "." + name;
      if (!seen.insert(name).second) fail(it->first.Mark(), "key '" + key + "' is given twice");
      auto handler = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h.first == name; });
      if (handler == handlers.end()) {
        std::string known;
        for (const auto& h : handlers) known += (known.empty() ? "" : ", ") + h.first;
        fail(it->first.Mark(), "unknown key '" + key + "' (known here: " + known + ")");
      }
      if (it->second.IsNull()) continue;
      handler->second(it->second, Field{key, it->second.Mark().is_null() ? it->first.Mark() : it->second.Mark()});
    }
  }

  void require_map(const YAML::Node& v, const Field& f) const {
    if (!v.IsMap()) fail(f, "must be a map of keys");
  }

  std::string text(const YAML::Node& v, const Field& f) const {
    if (!v.IsScalar()) fail(f, "must be a single value, not a list or map");
    return v.Scalar();
  }

  uint64_t whole(const YAML::Node& v, const Field& f, uint64_t min, uint64_t max) const {
    std::string t = text(v, f);
    auto n = parse_unsigned(t);
    if (!n || *n < min || *n > max)
      fail(f,
           "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" + t + "'");
    return *n;
  }

  uint32_t u32(const YAML::Node& v, const Field& f) const {
    return static_cast<uint32_t>(whole(v, f, 0, std::numeric_limits<uint32_t>::max()));
  }
  size_t count(const YAML::Node& v, const Field& f) const {
    return static_cast<size_t>(whole(v, f, 0, std::numeric_limits<uint32_t>::max()));
  }
  milliseconds millis(const YAML::Node& v, const Field& f) const {
    // Bounded so that conversions to nanoseconds cannot overflow.
    return milliseconds(static_cast<int64_t>(whole(v, f, 0, uint64_t{1} << 43)));
  }

  double number(const YAML::Node& v, const Field& f, double min, double max) const {
    std::string t = text(v, f);
    auto d = parse_double(t);
    if (!d || *d < min || *d > max) {
      std::ostringstream range;
      range << "must be a number from " << min << " to " << max << ", not '" << t << "'";
      fail(f, range.str());
    }
    return *d;
  }
  double ratio(const YAML::Node& v, const Field& f) const { return number(v, f, 0, 1); }

  bool boolean(const YAML::Node& v, const Field& f) const {
    bool b = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) fail(f, "must be true or false");
    return b;
  }

  template <class T>
  T parsed(const YAML::Node& v, const Field& f, T (*parse)(std::string_view)) const {
    std::string t = text(v, f);
    try {
      return parse(t);
    } catch (const std::invalid_argument& e) {
      fail(f, e.what());
    }
  }

  KeyValues string_map(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    KeyValues out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      Field entry{f.key + "." + (it->first.IsScalar() ? it->first.Scalar() : "?"), it->first.Mark()};
      if (!it->first.IsScalar() || trim(it->first.Scalar()).empty()) fail(entry, "keys must be non-empty strings");
      upsert(out, trim(it->first.Scalar()), it->second.IsNull() ? "" : text(it->second, entry));
    }
    return out;
  }

  template <class T>
  std::vector<T> list(const YAML::Node& v, const Field& f,
                      const std::function<T(const YAML::Node&, const Field&)>& item) {
    if (!v.IsSequence()) fail(f, "must be a list, e.g. [1, 2]");
    std::vector<T> out;
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(item(v[i], Field{f.key + "[" + std::to_string(i) + "]", v[i].Mark()}));
    return out;
  }

  void read_capture(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(v, f.key,
             {
                 {"payload_cap", [this](const YAML::Node& x, const Field& k) { layer_.payload_cap = u32(x, k); }},
                 {"ringbuf_size", [this](const YAML::Node& x, const Field& k) { layer_.ringbuf_bytes = u32(x, k); }},
                 {"pids",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.pids =
                        list<uint32_t>(x, k, [this](const YAML::Node& i, const Field& ik) { return u32(i, ik); });
                  }},
                 {"comms",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.comms =
                        list<std::string>(x, k, [this](const YAML::Node& i, const Field& ik) { return text(i, ik); });
                  }},
                 {"net_namespaces",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.net_namespaces =
                        list<std::string>(x, k, [this](const YAML::Node& i, const Field& ik) { return text(i, ik); });
                  }},
                 {"propagation", [this](const YAML::Node& x, const Field& k) { layer_.propagation = text(x, k); }},
                 {"shed", [this](const YAML::Node& x, const Field& k) { layer_.shed = text(x, k); }},
                 {"redact_query_params",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.redact_query_params =
                        list<std::string>(x, k, [this](const YAML::Node& i, const Field& ik) { return text(i, ik); });
                  }},
                 {"namespaces",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.namespaces =
                        list<std::string>(x, k, [this](const YAML::Node& i, const Field& ik) { return text(i, ik); });
                  }},
                 {"pod_labels", [this](const YAML::Node& x, const Field& k) { layer_.pod_labels = string_map(x, k); }},
                 {"containers",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.containers =
                        list<std::string>(x, k, [this](const YAML::Node& i, const Field& ik) { return text(i, ik); });
                  }},
                 {"executables",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.executables =
                        list<std::string>(x, k, [this](const YAML::Node& i, const Field& ik) { return text(i, ik); });
                  }},
                 {"ports",
                  [this](const YAML::Node& x, const Field& k) {
                    auto ports = list<uint16_t>(x, k, [this](const YAML::Node& i, const Field& ik) {
                      return static_cast<uint16_t>(whole(i, ik, 1, 65535));
                    });
                    layer_.ports = std::set<uint16_t>(ports.begin(), ports.end());
                  }},
             });
  }

  void read_stitching(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(v, f.key,
             {
                 {"link_window_ms",
                  [this](const YAML::Node& x, const Field& k) {
                    layer_.link_window_ms = static_cast<uint32_t>(whole(x, k, 0, 60000));
                  }},
             });
  }

  void read_service(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(v, f.key,
             {
                 {"name", [this](const YAML::Node& x, const Field& k) { layer_.service_name = text(x, k); }},
                 {"resource_attributes",
                  [this](const YAML::Node& x, const Field& k) { layer_.resource_attributes = string_map(x, k); }},
             });
  }

  // The keys shared by export (all signals), export.traces and export.metrics.
  Handlers otlp_handlers(OtlpLayer& o) {
    return {
        {"endpoint", [this, &o](const YAML::Node& x, const Field& k) { o.endpoint = trim(text(x, k)); }},
        {"protocol", [this, &o](const YAML::Node& x, const Field& k) { o.protocol = parsed(x, k, parse_protocol); }},
        {"headers", [this, &o](const YAML::Node& x, const Field& k) { o.headers = lower_case_keys(string_map(x, k)); }},
        {"timeout_ms", [this, &o](const YAML::Node& x, const Field& k) { o.timeout = millis(x, k); }},
        {"compression",
         [this, &o](const YAML::Node& x, const Field& k) { o.compression = parsed(x, k, parse_compression); }},
        {"certificate", [this, &o](const YAML::Node& x, const Field& k) { o.ca_file = text(x, k); }},
        {"client_certificate", [this, &o](const YAML::Node& x, const Field& k) { o.client_cert_file = text(x, k); }},
        {"client_key", [this, &o](const YAML::Node& x, const Field& k) { o.client_key_file = text(x, k); }},
        {"insecure", [this, &o](const YAML::Node& x, const Field& k) { o.insecure = boolean(x, k); }},
    };
  }

  void read_export(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    Handlers h = otlp_handlers(layer_.otlp);
    h.push_back({"traces", [this](const YAML::Node& x, const Field& k) {
                   require_map(x, k);
                   each_key(x, k.key, otlp_handlers(layer_.traces));
                 }});
    h.push_back({"metrics", [this](const YAML::Node& x, const Field& k) { read_metrics(x, k); }});
    h.push_back({"batch", [this](const YAML::Node& x, const Field& k) { read_batch(x, k); }});
    h.push_back({"retry", [this](const YAML::Node& x, const Field& k) { read_retry(x, k); }});
    h.push_back({"shutdown_timeout_ms",
                 [this](const YAML::Node& x, const Field& k) { layer_.shutdown_timeout = millis(x, k); }});
    h.push_back({"json_out", [this](const YAML::Node& x, const Field& k) { layer_.json_out = text(x, k); }});
    each_key(v, f.key, h);
  }

  void read_metrics(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    Handlers h = otlp_handlers(layer_.metrics);
    h.push_back(
        {"interval_ms", [this](const YAML::Node& x, const Field& k) { layer_.metrics_interval = millis(x, k); }});
    h.push_back(
        {"max_series", [this](const YAML::Node& x, const Field& k) { layer_.metrics_max_series = count(x, k); }});
    h.push_back(
        {"enabled", [this](const YAML::Node& x, const Field& k) { layer_.red_metrics_enabled = boolean(x, k); }});
    each_key(v, f.key, h);
  }

  void read_batch(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(
        v, f.key,
        {
            {"max_size", [this](const YAML::Node& x, const Field& k) { layer_.batch_size = count(x, k); }},
            {"timeout_ms", [this](const YAML::Node& x, const Field& k) { layer_.batch_timeout = millis(x, k); }},
            {"max_queue_size", [this](const YAML::Node& x, const Field& k) { layer_.max_queue_size = count(x, k); }},
            {"consumers", [this](const YAML::Node& x, const Field& k) { layer_.export_consumers = count(x, k); }},
            {"max_queue_bytes",
             [this](const YAML::Node& x, const Field& k) {
               layer_.max_queue_bytes = static_cast<size_t>(whole(x, k, 0, uint64_t{1} << 40));
             }},
        });
  }

  void read_retry(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(v, f.key,
             {
                 {"initial_interval_ms",
                  [this](const YAML::Node& x, const Field& k) { layer_.retry_initial = millis(x, k); }},
                 {"max_interval_ms",
                  [this](const YAML::Node& x, const Field& k) { layer_.retry_max_interval = millis(x, k); }},
                 {"max_elapsed_ms",
                  [this](const YAML::Node& x, const Field& k) { layer_.retry_max_elapsed = millis(x, k); }},
             });
  }

  void read_sampling(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(
        v, f.key,
        {
            {"sampler", [this](const YAML::Node& x, const Field& k) { layer_.sampler = parsed(x, k, parse_sampler); }},
            {"ratio", [this](const YAML::Node& x, const Field& k) { layer_.sampler_ratio = ratio(x, k); }},
            {"max_traces_per_second",
             [this](const YAML::Node& x, const Field& k) { layer_.max_traces_per_second = number(x, k, 0, 1e9); }},
            {"tail", [this](const YAML::Node& x, const Field& k) { read_tail(x, k); }},
        });
  }

  void read_tail(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(
        v, f.key,
        {
            {"keep_errors", [this](const YAML::Node& x, const Field& k) { layer_.tail_keep_errors = boolean(x, k); }},
            {"keep_slower_than_ms",
             [this](const YAML::Node& x, const Field& k) { layer_.tail_keep_slower_than = millis(x, k); }},
            {"ratio", [this](const YAML::Node& x, const Field& k) { layer_.tail_ratio = ratio(x, k); }},
            {"decision_wait_ms",
             [this](const YAML::Node& x, const Field& k) { layer_.tail_decision_wait = millis(x, k); }},
        });
  }

  void read_kubernetes(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(v, f.key,
             {
                 {"enabled", [this](const YAML::Node& x, const Field& k) { layer_.k8s_enabled = boolean(x, k); }},
                 {"api_url", [this](const YAML::Node& x, const Field& k) { layer_.k8s_api_url = text(x, k); }},
                 {"token_file", [this](const YAML::Node& x, const Field& k) { layer_.k8s_token_file = text(x, k); }},
                 {"ca_file", [this](const YAML::Node& x, const Field& k) { layer_.k8s_ca_file = text(x, k); }},
                 {"node_name", [this](const YAML::Node& x, const Field& k) { layer_.k8s_node_name = text(x, k); }},
             });
  }

  void read_diagnostics(const YAML::Node& v, const Field& f) {
    require_map(v, f);
    each_key(v, f.key,
             {
                 {"metrics_addr", [this](const YAML::Node& x, const Field& k) { layer_.metrics_addr = text(x, k); }},
                 {"stats_file", [this](const YAML::Node& x, const Field& k) { layer_.stats_file = text(x, k); }},
                 {"log_level",
                  [this](const YAML::Node& x, const Field& k) {
                    std::string level = to_lower(text(x, k));
                    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
                    if (!kLevels.contains(level)) fail(k, "must be one of trace, debug, info, warn, error, off");
                    layer_.log_level = level;
                  }},
             });
  }

  const std::string path_;
  ConfigLayer layer_;
};

}  // namespace

ConfigLayer read_config_file(const std::string& path) { return ConfigFileReader(path).read(); }

}  // namespace spanwire
