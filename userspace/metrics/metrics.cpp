#include "metrics/metrics.h"

#include <nlohmann/json.hpp>

namespace spanwire {

nlohmann::json Metrics::to_json() const {
  nlohmann::json j = nlohmann::json::object();
#define SPANWIRE_COUNTER_TO_JSON(name, help) j[#name] = name.load(std::memory_order_relaxed);
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_COUNTER_TO_JSON)
#undef SPANWIRE_COUNTER_TO_JSON
  return j;
}

std::string Metrics::summary() const {
  std::string out;
#define SPANWIRE_COUNTER_TO_TEXT(name, help)                           \
  if (uint64_t v = name.load(std::memory_order_relaxed); v != 0) {     \
    if (!out.empty()) out += ' ';                                       \
    out += #name "=" + std::to_string(v);                              \
  }
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_COUNTER_TO_TEXT)
#undef SPANWIRE_COUNTER_TO_TEXT
  return out.empty() ? "all counters zero" : out;
}

}  // namespace spanwire
