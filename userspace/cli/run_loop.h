// The daemon's main loop, shared by `spanwire run` and `spanwire trace`:
// load the sensor, then read the ring buffer and drive every stage until
// SIGINT or SIGTERM; on the way out, complete what is in flight and flush.
#pragma once

#include "config/config.h"
#include "export/exporter.h"

namespace spanwire {

class Metrics;

// Returns the process exit code. Start-up problems are printed as one line.
int run_pipeline(const Config& config, SpanExporter& exporter, Metrics& metrics);

}  // namespace spanwire
