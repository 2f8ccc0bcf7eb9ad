// The pure parts of sampling: consistent probability decisions from a trace's
// randomness, the head sampler of OTEL_TRACES_SAMPLER, and a token bucket.
//
// Probability decisions follow the OpenTelemetry specification's current
// TraceIdRatioBased definition (trace/sdk.md "TraceIdRatioBased sampler
// algorithm" and trace/tracestate-probability-sampling.md), not the older
// per-SDK hashes: a ratio becomes a 56-bit rejection threshold T, a trace's
// randomness R is the explicit `rv` of its OpenTelemetry tracestate or else the
// 7 rightmost bytes of its trace id, and the trace is kept when R >= T. Being
// defined on the trace id alone, the decision is the same on every node and in
// every SDK that implements this definition with the recommended precision
// (as the Go SDK's ProbabilitySampler and .NET's consistent probability sampler
// do), whatever span of the trace is seen first; and a trace kept at ratio r is
// kept at any larger ratio, since T only falls as the ratio grows.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "span/span.h"

namespace spanwire {

// 2^56: one more than the largest randomness; as a threshold, "never".
inline constexpr uint64_t kNeverSampleThreshold = uint64_t{1} << 56;

// The rejection threshold of a sampling ratio: (1 - ratio) * 2^56, rounded to
// 4 significant hex digits (the specification's recommended default precision;
// more digits where the threshold starts with 0s or fs, so that ratios near 0
// and 1 keep 4 significant digits), as the SDKs above compute it. Ratios of 1 or
// more give 0 (keep all); below 2^-56, or NaN, kNeverSampleThreshold.
uint64_t rejection_threshold(double ratio);

// The `rv` sub-key of the `ot` member of a W3C tracestate: 14 hex digits.
std::optional<uint64_t> explicit_randomness(std::string_view trace_state);

// The randomness a consistent sampler compares with its threshold.
uint64_t trace_randomness(const TraceId& trace_id, std::string_view trace_state);

inline bool kept_at(uint64_t randomness, uint64_t threshold) { return randomness >= threshold; }

// OTEL_TRACES_SAMPLER. Parent-based samplers follow the sampled flag of the
// trace's remote parent (the incoming traceparent or B3 header) when there is
// one; traces that started here go to the root sampler.
class HeadSampler {
 public:
  explicit HeadSampler(const SamplingSettings& settings);
  // remote_sampled: the remote parent's sampled flag, when the trace came from a header.
  bool keeps(uint64_t randomness, std::optional<bool> remote_sampled) const;
  bool parent_based() const { return parent_based_; }
  // Keeps every trace that started here (root sampler always_on, or ratio 1).
  bool keeps_all_roots() const { return root_threshold_ == 0; }
  // A sampled remote parent and no remote parent get the same verdict for
  // every trace: only an unsampled remote parent changes it.
  bool sampled_parent_same_as_root() const { return !parent_based_ || keeps_all_roots(); }

 private:
  bool parent_based_ = true;
  uint64_t root_threshold_ = 0;
};

// A ceiling on events per second: a bucket of one second's worth (at least one)
// that refills continuously.
class TokenBucket {
 public:
  explicit TokenBucket(double per_second);
  // Takes one token at `now_ns` (CLOCK_MONOTONIC) if there is one.
  bool take(uint64_t now_ns);

 private:
  double per_ns_;
  double burst_;
  double tokens_;
  uint64_t last_ns_ = 0;
};

}  // namespace spanwire
