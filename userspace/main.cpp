// spanwire: eBPF zero-instrumentation tracing sensor.
//   spanwire run      trace every HTTP exchange on this host and export spans
//   spanwire trace    live on-host view, one line per exchange
//   spanwire doctor   which TLS libraries are hooked, and why others are not
//   spanwire version
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/run_loop.h"
#include "config/config.h"
#include "export/json_exporter.h"
#include "export/otlp_grpc_exporter.h"
#include "export/terminal_exporter.h"
#include "export/trace_view.h"
#include "tls/doctor.h"
#include "metrics/metrics.h"

namespace {

using spanwire::Config;

// Sends every span to several exporters (terminal or OTLP, plus a JSON file).
class FanOutExporter final : public spanwire::SpanExporter {
 public:
  void add(std::unique_ptr<spanwire::SpanExporter> e) { exporters_.push_back(std::move(e)); }
  void export_span(spanwire::Span span) override {
    for (size_t i = 0; i + 1 < exporters_.size(); ++i) exporters_[i]->export_span(span);
    if (!exporters_.empty()) exporters_.back()->export_span(std::move(span));
  }
  void flush(std::chrono::milliseconds timeout) override {
    for (auto& e : exporters_) e->flush(timeout);
  }

 private:
  std::vector<std::unique_ptr<spanwire::SpanExporter>> exporters_;
};

void add_capture_flags(CLI::App* cmd, Config& c) {
  cmd->add_option("--pid", c.pids, "Trace only these process ids (repeatable)");
  cmd->add_option("--comm", c.comms, "Trace only processes with this name (repeatable, 15 characters at most)");
  cmd->add_option("--port", c.ports, "Report only connections with this local or remote port (repeatable)");
  cmd->add_option("--payload-cap", c.payload_cap, "Bytes of payload copied per syscall")->capture_default_str();
  cmd->add_option("--ringbuf-size", c.ringbuf_bytes, "Kernel ring buffer size in bytes (power of two)")
      ->capture_default_str();
  cmd->add_option("--link-window-ms", c.link_window_ms,
                  "How long a finished span waits for its partners (client/server, caller/callee) before export")
      ->check(CLI::Range(0u, 60000u))
      ->capture_default_str();
  cmd->add_option("--stats-file", c.stats_file, "Write the sensor's counters as JSON to this file every second");
  cmd->add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

void setup_logging(const std::string& level) {
  // Logs go to stderr: stdout carries spans.
  auto logger = spdlog::stderr_color_mt("spanwire");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

int run_command(Config& config, bool trace_view, bool json_view) {
  setup_logging(config.log_level);
  try {
    spanwire::validate(config);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  if (geteuid() != 0) spdlog::debug("not running as root: relying on capabilities");

  spanwire::Metrics metrics;
  FanOutExporter exporter;
  std::unique_ptr<std::ofstream> json_file;
  if (trace_view) {
    exporter.add(std::make_unique<spanwire::TraceViewExporter>(std::cout, json_view));
  } else {
    if (!config.otlp_endpoint.empty()) {
      spanwire::OtlpGrpcExporter::Options o;
      o.endpoint = config.otlp_endpoint;
      o.max_batch_size = config.batch_size;
      o.batch_timeout = config.batch_timeout;
      o.max_queue_size = config.max_queue_size;
      o.export_timeout = config.export_timeout;
      exporter.add(std::make_unique<spanwire::OtlpGrpcExporter>(o, metrics));
      spdlog::info("exporting spans over OTLP/gRPC to {}", config.otlp_endpoint);
    } else if (config.json_out != "-") {
      exporter.add(std::make_unique<spanwire::TerminalExporter>(std::cout));
      spdlog::info("no OTLP endpoint configured (--otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT): printing spans");
    }
    if (config.json_out == "-") {
      exporter.add(std::make_unique<spanwire::JsonExporter>(std::cout));
    } else if (!config.json_out.empty()) {
      json_file = std::make_unique<std::ofstream>(config.json_out, std::ios::app);
      if (!*json_file) {
        spdlog::error("cannot open --json-out file {}: {}", config.json_out, std::strerror(errno));
        return 2;
      }
      exporter.add(std::make_unique<spanwire::JsonExporter>(*json_file));
    }
  }
  return spanwire::run_pipeline(config, exporter, metrics);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spanwire: eBPF zero-instrumentation tracing. Captures HTTP traffic of every process on this host "
               "from syscalls and turns each exchange into an OpenTelemetry span."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("spanwire ") + SPANWIRE_VERSION);

  Config config;
  spanwire::apply_environment(config, [](const char* n) -> const char* { return std::getenv(n); });

  auto* run = app.add_subcommand("run", "Trace this host and export spans (OTLP/gRPC, or the terminal)");
  add_capture_flags(run, config);
  run->add_option("--otlp-endpoint", config.otlp_endpoint,
                  "OTLP/gRPC collector, e.g. http://127.0.0.1:4317 (default: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
                  "$OTEL_EXPORTER_OTLP_ENDPOINT; none: print spans)");
  run->add_option("--json-out", config.json_out, "Also write spans as JSON lines to this file ('-': stdout only)");
  run->add_option("--batch-size", config.batch_size, "Spans per OTLP export call at most")->capture_default_str();
  int batch_timeout_ms = static_cast<int>(config.batch_timeout.count());
  run->add_option("--batch-timeout-ms", batch_timeout_ms, "Longest wait before a partial batch is sent")
      ->capture_default_str();

  auto* trace = app.add_subcommand("trace", "Live view of HTTP exchanges on this host, one line each");
  add_capture_flags(trace, config);
  bool json_view = false;
  trace->add_flag("--json", json_view, "One JSON object per line");

  auto* doctor = app.add_subcommand(
      "doctor", "List the TLS libraries spanwire hooks, the processes that use them, and why others are not covered");

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  config.batch_timeout = std::chrono::milliseconds(batch_timeout_ms);

  if (version->parsed()) {
    std::cout << "spanwire " << SPANWIRE_VERSION << " (BPF types from " << SPANWIRE_VMLINUX_SOURCE << ")\n";
    return 0;
  }
  if (doctor->parsed()) {
    spanwire::tls::Discovery discovery;
    std::cout << spanwire::tls::doctor_report(discovery, static_cast<uint32_t>(getpid()));
    return 0;
  }
  return run_command(config, trace->parsed(), json_view);
}
