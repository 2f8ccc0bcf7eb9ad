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

#include "cli/exporters.h"
#include "cli/flags.h"
#include "cli/run_loop.h"
#include "config/config.h"
#include "config/config_layer.h"
#include "tls/doctor.h"
#include "metrics/metrics.h"

// jemalloc's settings, read when it starts (MALLOC_CONF in the environment
// still overrides them). Its background thread returns unused pages to the
// kernel, so the pipeline thread never makes those madvise calls itself; 30 s
// of decay instead of 10 s refaults fewer pages after each burst of spans.
// Together 0.91x sensor CPU per span at a fixed 10k req/s, 4 alternating
// rounds, for ~3 MiB more RSS there and a higher peak under saturation (173
// MiB against 151 in the full runs; docs/PERFORMANCE.md item 26). The thread
// starts with every signal blocked, so SIGTERM still reaches the run loop.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:30000";
}

namespace {

using spanwire::Config;

// Logs go to stderr: stdout carries spans (and --print-config's YAML). Set up
// before the configuration is read, so its warnings go there too.
void setup_logging() {
  auto logger = spdlog::stderr_color_mt("spanwire");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

int run_command(Config& config, bool trace_view, bool json_view) {
  if (geteuid() != 0) spdlog::debug("not running as root: relying on capabilities");

  spanwire::Metrics metrics;
  std::unique_ptr<spanwire::ExportChain> chain;
  try {
    chain = spanwire::build_export_chain(
        config,
        !trace_view ? spanwire::OutputMode::kRun
                    : (json_view ? spanwire::OutputMode::kTraceJson : spanwire::OutputMode::kTraceLines),
        metrics);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  const int status = spanwire::run_pipeline(config, chain->exporter, metrics);
  chain.reset();  // exporters count what they could not send as they stop
  spdlog::info("sensor counters: {}", metrics.summary());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  spanwire::block_stop_signals();  // before any thread exists (cli/run_loop.h)

  CLI::App app{"spanwire: eBPF zero-instrumentation tracing. Captures HTTP traffic of every process on this host "
               "from syscalls and turns each exchange into an OpenTelemetry span."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("spanwire ") + SPANWIRE_VERSION);

  // Flags fill their own layer; the environment and the config file are read
  // after parsing, and all are stacked by load_config.
  spanwire::ConfigLayer flags;
  spanwire::CommandFlags command;

  auto* run = app.add_subcommand("run", "Trace this host and export spans (OTLP, or the terminal)");
  spanwire::add_run_flags(*run, flags, command);

  auto* trace = app.add_subcommand("trace", "Live view of HTTP exchanges on this host, one line each");
  spanwire::add_trace_flags(*trace, flags, command);
  bool json_view = false;
  trace->add_flag("--json", json_view, "One JSON object per line");

  auto* doctor = app.add_subcommand(
      "doctor", "List the TLS libraries spanwire hooks, the processes that use them, and why others are not covered");

  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    // One line and exit status 2, like every other start-up error.
    std::cerr << "spanwire: " << e.what() << " (spanwire " << (run->parsed() ? "run " : trace->parsed() ? "trace " : "")
              << "--help lists the flags)\n";
    return 2;
  }

  if (version->parsed()) {
    std::cout << "spanwire " << SPANWIRE_VERSION << " (BPF types from " << SPANWIRE_VMLINUX_SOURCE << ")\n";
    return 0;
  }
  if (doctor->parsed()) {
    spanwire::tls::Discovery discovery;
    std::cout << spanwire::tls::doctor_report(discovery, static_cast<uint32_t>(getpid()));
    return 0;
  }

  setup_logging();
  Config config;
  try {
    config = spanwire::load_config([](const char* n) -> const char* { return std::getenv(n); }, command.config_file,
                                   flags);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (trace->parsed()) {
    // The live view exports nothing: OTEL_* export settings meant for
    // `spanwire run` must not stop it.
    config.traces.endpoint.clear();
    config.metrics.endpoint.clear();
  }
  if (command.print_config) std::cout << spanwire::print_config(config) << std::flush;
  try {
    spanwire::validate(config);
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  if (command.print_config) return 0;
  return run_command(config, trace->parsed(), json_view);
}
