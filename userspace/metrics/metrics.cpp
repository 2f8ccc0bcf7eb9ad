#include "metrics/metrics.h"

#include <nlohmann/json.hpp>

namespace spanwire {

void LatencyHistogram::observe(double seconds) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++data_.counts[i];
  ++data_.count;
  data_.sum += seconds;
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  std::lock_guard lock(mutex_);
  return data_;
}

void LabeledCounter::add(const std::string& label, uint64_t n) {
  std::lock_guard lock(mutex_);
  values_[label] += n;
}

std::map<std::string, uint64_t> LabeledCounter::snapshot() const {
  std::lock_guard lock(mutex_);
  return values_;
}

nlohmann::json Metrics::to_json() const {
  nlohmann::json j = nlohmann::json::object();
#define SPANWIRE_COUNTER_TO_JSON(name, help) j[#name] = name.load(std::memory_order_relaxed);
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_COUNTER_TO_JSON)
  SPANWIRE_GAUGES(SPANWIRE_COUNTER_TO_JSON)
#undef SPANWIRE_COUNTER_TO_JSON
  for (const auto& counters : protocols.all()) {
    for (size_t i = 0; i < counters->specs().size(); ++i)
      j[std::string(counters->protocol()) + "_" + std::string(counters->specs()[i].name)] = counters->value(i);
  }
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
  for (const auto& counters : protocols.all()) {
    for (size_t i = 0; i < counters->specs().size(); ++i) {
      if (const uint64_t v = counters->value(i); v != 0) {
        if (!out.empty()) out += ' ';
        out += std::string(counters->protocol()) + "_" + std::string(counters->specs()[i].name) + "=" + std::to_string(v);
      }
    }
  }
  return out.empty() ? "all counters zero" : out;
}

}  // namespace spanwire
