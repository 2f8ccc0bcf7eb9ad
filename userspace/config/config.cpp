// validate(): the checks on the effective settings, whichever source set them.
#include "config/config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/stat.h>
#include <stdexcept>

#include <linux/types.h>

#include "config/config_values.h"
#include "spanwire.h"

namespace spanwire {
namespace {

[[noreturn]] void reject(const std::string& problem) { throw std::invalid_argument(problem); }

void check_ratio(double value, const char* what) {
  if (!(value >= 0 && value <= 1)) reject(std::string(what) + " must be a number from 0 to 1");
}

void check_http_endpoint(const std::string& endpoint, const std::string& signal) {
  auto url = split_url(endpoint);
  if (!url || (url->scheme != "http" && url->scheme != "https"))
    reject("OTLP/HTTP " + signal + " endpoint '" + endpoint +
           "' must be a URL like http://host:4318 (scheme http or https, host, optional port and path); "
           "for OTLP/gRPC set --otlp-protocol grpc");
}

void check_grpc_endpoint(const std::string& endpoint, const std::string& signal) {
  auto url = split_url(endpoint);
  bool ok = url && (url->scheme.empty() || url->scheme == "http" || url->scheme == "https") &&
            (url->path.empty() || url->path == "/");
  if (!ok)
    reject("OTLP/gRPC " + signal + " endpoint '" + endpoint +
           "' must be host:port, http://host:port or https://host:port (no path); "
           "for OTLP/HTTP set --otlp-protocol http/protobuf");
}

void check_readable_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    reject(what + " '" + path + "' is not a file" + (ec ? ": " + ec.message() : ""));
  std::ifstream in(path);
  if (!in) reject(what + " '" + path + "' cannot be read: " + std::strerror(errno));
}

void check_otlp(const OtlpSettings& o, const std::string& signal) {
  if (o.endpoint.empty()) return;
  if (o.protocol == OtlpProtocol::kHttpProtobuf)
    check_http_endpoint(o.endpoint, signal);
  else
    check_grpc_endpoint(o.endpoint, signal);
  if (o.timeout.count() <= 0) reject("the OTLP " + signal + " timeout must be at least 1 ms");
  if (!o.ca_file.empty()) check_readable_file(o.ca_file, "OTLP " + signal + " certificate (--otlp-certificate)");
  if (o.client_cert_file.empty() != o.client_key_file.empty())
    reject("OTLP " + signal +
           " mTLS needs both a client certificate and its key (--otlp-client-certificate and --otlp-client-key)");
  if (!o.client_cert_file.empty()) {
    check_readable_file(o.client_cert_file, "OTLP " + signal + " client certificate (--otlp-client-certificate)");
    check_readable_file(o.client_key_file, "OTLP " + signal + " client key (--otlp-client-key)");
  }
}

void check_listen_address(const std::string& addr) {
  auto url = split_url(addr);
  if (!url || !url->scheme.empty() || !url->port || !url->path.empty())
    reject("--metrics-addr '" + addr + "' must be host:port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464");
}

void check_capture(const Config& c) {
  if (c.payload_cap == 0 || c.payload_cap > SW_MAX_PAYLOAD)
    reject("--payload-cap must be between 1 and " + std::to_string(SW_MAX_PAYLOAD) + " bytes");
  uint32_t rb = c.ringbuf_bytes;
  if (rb < 4096 || (rb & (rb - 1)) != 0)
    reject("--ringbuf-size must be a power of two of at least 4096 bytes (e.g. 16777216)");
  if (c.link_window_ms > 60000) reject("--link-window-ms must be at most 60000");
  if (c.propagation != "tcp-option" && c.propagation != "off")
    reject("--propagation must be tcp-option or off (SPANWIRE_PROPAGATION, capture.propagation)");
  if (c.shed != "on" && c.shed != "off") reject("--shed must be on or off (SPANWIRE_SHED, capture.shed)");
  for (const std::string& path : c.net_namespaces) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      reject("--net-ns " + path + ": " + std::strerror(errno) + " (give /run/netns/NAME or /proc/PID/ns/net)");
  }
}

void check_export(const Config& c) {
  if (c.batch_size == 0) reject("--batch-size must be at least 1");
  if (c.max_queue_size < c.batch_size) reject("--max-queue-size must be at least --batch-size");
  if (c.export_consumers == 0 || c.export_consumers > 64) reject("--export-consumers must be 1 to 64");
  if (c.max_queue_bytes == 0) reject("the export queue's memory ceiling (--max-queue-mib) must be more than 0");
  if (c.retry_initial.count() <= 0)
    reject("the first retry interval (export.retry.initial_interval_ms) must be at least 1 ms");
  if (c.retry_max_interval < c.retry_initial)
    reject("export.retry.max_interval_ms must be at least export.retry.initial_interval_ms");
  check_otlp(c.traces, "traces");
  if (c.red_metrics_enabled) {
    check_otlp(c.metrics, "metrics");
    if (c.metrics_interval.count() <= 0) reject("--metrics-interval-ms must be at least 1");
    if (c.metrics_max_series == 0) reject("export.metrics.max_series must be at least 1");
  }
}

void check_sampling(const SamplingSettings& s) {
  check_ratio(s.ratio, "--sampler-arg (the sampling ratio)");
  check_ratio(s.tail_ratio, "--tail-ratio");
  if (!(s.max_traces_per_second >= 0)) reject("--max-traces-per-second must be 0 (no limit) or more");
}

}  // namespace

void validate(const Config& c) {
  check_capture(c);
  check_export(c);
  check_sampling(c.sampling);
  if (!c.metrics_addr.empty()) check_listen_address(c.metrics_addr);
  static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
  if (!kLevels.contains(c.log_level)) reject("--log-level must be one of trace, debug, info, warn, error, off");
}

}  // namespace spanwire
