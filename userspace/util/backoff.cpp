#include "util/backoff.h"

#include <algorithm>
#include <cmath>

namespace spanwire {

Backoff::Backoff(const BackoffPolicy& policy, uint64_t seed) : policy_(policy), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const double grown = static_cast<double>(policy_.initial.count()) * std::pow(policy_.multiplier, attempt_);
  const double cap = static_cast<double>(policy_.max_interval.count());
  if (grown < cap) ++attempt_;  // stop growing once capped: no overflow after hours of failures
  std::uniform_real_distribution<double> factor(1.0 - policy_.jitter, 1.0 + policy_.jitter);
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(1.0, std::min(grown, cap) * factor(random_))));
}

}  // namespace spanwire
