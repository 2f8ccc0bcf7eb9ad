// The --stats-file: the sensor's counters as one JSON object, rewritten every
// second. Readers (tests, node agents) never see a half-written file: it is
// written beside the target and renamed over it.
#pragma once

#include <string>

#include "metrics/metrics.h"

namespace spanwire {

// Empty on success, else what failed (for one log line).
std::string write_stats_file(const std::string& path, const Metrics& metrics);

}  // namespace spanwire
