#include "span/sampling_rules.h"
#include "common/text.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace spanwire {

namespace {
constexpr int kThresholdHexDigits = 14;  // 56 bits
constexpr int kDefaultPrecision = 4;     // hex digits; the specification's recommendation
constexpr double kMinRatio = 0x1p-56;

// Calls f(item) for each `separator`-separated item of s, trimmed; stops when f returns true.
template <typename F>
bool any_item(std::string_view s, char separator, F f) {
  while (!s.empty()) {
    const auto end = s.find(separator);
    if (f(trim_optional_whitespace(s.substr(0, end)))) return true;
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return false;
}
}  // namespace

uint64_t rejection_threshold(double ratio) {
  if (!(ratio >= kMinRatio)) return kNeverSampleThreshold;  // also NaN
  if (ratio >= 1) return 0;
  // One more significant digit per leading 'f' (small ratios) or '0' (ratios
  // near 1) of the threshold: each power of 16 in the ratio or in 1 - ratio.
  int exp_keep = 0, exp_reject = 0;
  std::frexp(ratio, &exp_keep);
  std::frexp(1 - ratio, &exp_reject);
  const int precision = std::min(kThresholdHexDigits, kDefaultPrecision + std::max(-exp_keep, -exp_reject) / 4);
  // std::llround rounds halves away from zero, as the reference implementations do.
  uint64_t threshold = kNeverSampleThreshold - static_cast<uint64_t>(std::llround(ratio * 0x1p56));
  if (const int shift = 4 * (kThresholdHexDigits - precision); shift > 0) {
    threshold += uint64_t{1} << (shift - 1);  // round to nearest at the last kept digit
    threshold = (threshold >> shift) << shift;
  }
  return threshold;
}

std::optional<uint64_t> explicit_randomness(std::string_view trace_state) {
  std::optional<uint64_t> found;
  any_item(trace_state, ',', [&](std::string_view member) {
    if (!member.starts_with("ot=")) return false;
    any_item(member.substr(3), ';', [&](std::string_view field) {
      if (!field.starts_with("rv:")) return false;
      const std::string_view hex = field.substr(3);
      uint64_t value = 0;
      const auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
      if (hex.size() == kThresholdHexDigits && ec == std::errc() && end == hex.data() + hex.size()) found = value;
      return true;
    });
    return true;  // only the first `ot` member counts
  });
  return found;
}

uint64_t trace_randomness(const TraceId& trace_id, std::string_view trace_state) {
  if (!trace_state.empty()) {
    if (auto rv = explicit_randomness(trace_state)) return *rv;
  }
  uint64_t r = 0;
  for (size_t i = trace_id.size() - kThresholdHexDigits / 2; i < trace_id.size(); ++i) r = (r << 8) | trace_id[i];
  return r;
}

HeadSampler::HeadSampler(const SamplingSettings& settings) {
  switch (settings.sampler) {
    case SamplerKind::kAlwaysOn:
    case SamplerKind::kParentBasedAlwaysOn:
      root_threshold_ = 0;
      break;
    case SamplerKind::kAlwaysOff:
    case SamplerKind::kParentBasedAlwaysOff:
      root_threshold_ = kNeverSampleThreshold;
      break;
    case SamplerKind::kTraceIdRatio:
    case SamplerKind::kParentBasedTraceIdRatio:
      root_threshold_ = rejection_threshold(settings.ratio);
      break;
  }
  parent_based_ = settings.sampler == SamplerKind::kParentBasedAlwaysOn ||
                  settings.sampler == SamplerKind::kParentBasedAlwaysOff ||
                  settings.sampler == SamplerKind::kParentBasedTraceIdRatio;
}

bool HeadSampler::keeps(uint64_t randomness, std::optional<bool> remote_sampled) const {
  // Parent-based defaults: remoteParentSampled = AlwaysOn, remoteParentNotSampled = AlwaysOff.
  if (parent_based_ && remote_sampled) return *remote_sampled;
  return kept_at(randomness, root_threshold_);
}

TokenBucket::TokenBucket(double per_second)
    : per_ns_(per_second / 1e9), burst_(std::max(1.0, per_second)), tokens_(burst_) {}

bool TokenBucket::take(uint64_t now_ns) {
  if (now_ns > last_ns_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * per_ns_);
    last_ns_ = now_ns;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace spanwire
