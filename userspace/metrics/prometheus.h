// The sensor's own counters in the Prometheus text exposition format 0.0.4,
// for the /metrics endpoint (metrics/health_server.h). The families are
// built here; prometheus-cpp's TextSerializer writes (and escapes) the text.
#pragma once

#include <string>
#include <string_view>

namespace spanwire {

class Metrics;

// Content-Type of what render_prometheus() returns.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every counter as spanwire_<name>_total, every gauge as spanwire_<name>, the
// export latency histogram, export failures by reason and parse errors by
// protocol; each family with its # HELP and # TYPE lines.
std::string render_prometheus(const Metrics& metrics);

}  // namespace spanwire
