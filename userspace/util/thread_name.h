// Names the calling thread (at most 15 characters show), so that `top -H`,
// /proc/<pid>/task/*/comm and the benchmark's per-thread CPU say which of
// the sensor's threads spends what: the pipeline, an export sender, ...
#pragma once

#include <string>

namespace spanwire {

// Best effort: a name that cannot be set changes nothing else.
void name_this_thread(const std::string& name);

}  // namespace spanwire
