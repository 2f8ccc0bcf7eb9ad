#include "metrics/prometheus.h"

#include <charconv>
#include <cmath>

#include "metrics/metrics.h"

namespace spanwire {
namespace {

// HELP text escapes backslash and line feed (not the double quote).
std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Shortest text that reads back as the same double; Prometheus spells the
// infinities +Inf / -Inf.
std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += escape_help(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // `labels` is empty or already rendered as {k="v",...}.
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_ += name;
    out_ += labels;
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, uint64_t value) {
    sample(name, labels, std::to_string(value));
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
  std::string out = "{";
  out += name;
  out += "=\"";
  out += escape_label_value(value);
  out += "\"}";
  return out;
}

void write_export_latency(Writer& w, const LatencyHistogram::Snapshot& h) {
  constexpr std::string_view kName = "spanwire_export_duration_seconds";
  w.family(kName, "histogram", "duration of OTLP export calls");
  const std::string bucket = std::string(kName) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += h.counts[i];
    w.sample(bucket, label("le", format_double(LatencyHistogram::kBounds[i])), cumulative);
  }
  cumulative += h.counts.back();
  w.sample(bucket, label("le", "+Inf"), cumulative);
  w.sample(std::string(kName) + "_sum", "", format_double(h.sum));
  w.sample(std::string(kName) + "_count", "", h.count);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_prometheus(const Metrics& m) {
  Writer w;
#define SPANWIRE_PROMETHEUS_COUNTER(name, help)                    \
  w.family("spanwire_" #name "_total", "counter", help);           \
  w.sample("spanwire_" #name "_total", "", m.name.load(std::memory_order_relaxed));
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_PROMETHEUS_COUNTER)
#undef SPANWIRE_PROMETHEUS_COUNTER

#define SPANWIRE_PROMETHEUS_GAUGE(name, help)            \
  w.family("spanwire_" #name, "gauge", help);            \
  w.sample("spanwire_" #name, "", m.name.load(std::memory_order_relaxed));
  SPANWIRE_GAUGES(SPANWIRE_PROMETHEUS_GAUGE)
#undef SPANWIRE_PROMETHEUS_GAUGE

  // The per-protocol counters again, as one family a dashboard can sum or split.
  w.family("spanwire_parse_errors_total", "counter", "parse errors by protocol");
  w.sample("spanwire_parse_errors_total", label("protocol", "http1"),
           m.http1_parse_errors.load(std::memory_order_relaxed));
  w.sample("spanwire_parse_errors_total", label("protocol", "http2"),
           m.http2_parse_errors.load(std::memory_order_relaxed));

  write_export_latency(w, m.export_latency.snapshot());

  w.family("spanwire_export_failures_total", "counter", "failed OTLP export attempts by reason");
  for (const auto& [reason, count] : m.export_failures.snapshot())
    w.sample("spanwire_export_failures_total", label("reason", reason), count);

  return w.take();
}

}  // namespace spanwire
