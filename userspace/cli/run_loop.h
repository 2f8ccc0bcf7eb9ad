// The daemon's main loop, shared by `spanwire run` and `spanwire trace`:
// load the sensor, then read the ring buffer and drive every stage until
// SIGINT or SIGTERM; on the way out, complete what is in flight and flush.
#pragma once

#include <signal.h>

#include "config/config.h"
#include "export/exporter.h"

namespace spanwire {

class Metrics;

// SIGINT and SIGTERM, which the run loop takes through a signalfd. Call
// block_stop_signals() first thing in main, before any thread exists
// (exporter senders, gRPC, the health server): threads inherit the mask, and
// one thread without it would let the default action kill the process
// before the flush. Returns the set it blocked.
sigset_t block_stop_signals();

// Returns the process exit code. Start-up problems are printed as one line.
// Expects block_stop_signals() to have run.
int run_pipeline(const Config& config, SpanExporter& exporter, Metrics& metrics);

}  // namespace spanwire
