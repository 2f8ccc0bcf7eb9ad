// Exponential backoff with jitter, for everything that retries a remote peer
// (the OTLP collector, the Kubernetes API server): initial, initial *
// multiplier, ... capped at max_interval, each delay scaled by a random
// factor in [1 - jitter, 1 + jitter] so that a DaemonSet's sensors do not
// hammer a recovering server in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace spanwire {

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max_interval{30000};
  double multiplier = 1.5;
  double jitter = 0.5;
};

class Backoff {
 public:
  Backoff(const BackoffPolicy& policy, uint64_t seed);
  // The next delay; grows until it reaches the cap, then stays there.
  std::chrono::milliseconds next();
  // After a success: the next failure starts from `initial` again.
  void reset() { attempt_ = 0; }

 private:
  BackoffPolicy policy_;
  std::mt19937_64 random_;
  int attempt_ = 0;
};

}  // namespace spanwire
