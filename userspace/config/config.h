// The sensor's settings: defaults, then environment, then command-line flags.
// The only mutable state shared across the daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace spanwire {

struct Config {
  // Capture
  uint32_t payload_cap = 16384;        // bytes copied per syscall event
  uint32_t ringbuf_bytes = 16u << 20;  // kernel -> userspace ring buffer
  std::vector<uint32_t> pids;          // trace only these processes
  std::vector<std::string> comms;      // trace only these process names
  std::set<uint16_t> ports;            // report only connections on these ports

  // Stitching: how long a finished span waits for the other spans of its trace
  uint32_t link_window_ms = 1000;

  // Export
  std::string otlp_endpoint;  // OTLP/gRPC collector; empty: print to the terminal
  std::string json_out;       // also write JSON lines here ("-" = stdout)
  size_t batch_size = 512;
  std::chrono::milliseconds batch_timeout{1000};
  size_t max_queue_size = 8192;
  std::chrono::milliseconds export_timeout{10000};

  // Diagnostics
  std::string stats_file;  // rewritten every second with the sensor's counters (JSON)
  std::string log_level = "info";
};

// Fills the OTLP endpoint from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
// OTEL_EXPORTER_OTLP_ENDPOINT (the signal-specific variable wins, as in the
// OpenTelemetry SDKs). `getenv` is injectable for tests.
void apply_environment(Config& config, const char* (*getenv_fn)(const char*));

// Checks values a user can get wrong; throws std::invalid_argument with one line.
void validate(const Config& config);

}  // namespace spanwire
