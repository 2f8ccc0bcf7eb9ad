// Decides which traces are exported, between the trace linker and the
// exporter. Every span of a trace gets its trace's decision, keyed by the final
// trace id the linker gave it, whatever order the spans come in:
//  1. head: OTEL_TRACES_SAMPLER (always_on, always_off, traceidratio, and the
//     parentbased_* forms, which follow the sampled flag of the trace's remote
//     parent when the trace came from a traceparent/B3 header);
//  2. tail ratio: a consistent ratio of the traces the head kept;
//  3. tail rules: traces with an error span, or at least keep_slower_than long,
//     are kept whatever 1 and 2 said;
//  4. a traces-per-second ceiling over the traces kept so far.
// Probability decisions use the trace id's randomness (span/sampling_rules.h),
// so other nodes decide the same for the same trace.
//
// Only the tail rules need a whole trace, and they can only rescue a trace: a
// trace that 1 and 2 keep is decided on its first span and forwarded at once.
// A trace they drop is held, when a tail rule is on, until no span of it has
// come for decision_wait (or too many spans are held), then decided as a whole.
// Decisions are remembered for a while so that later spans follow them.
//
// The remote parent's flag comes from SpanLinkage::remote_sampled, which the
// linker sets on every span of a tree from its top-most header, so a trace
// decided on its first span follows the header even when the span that
// carried it is released later.
//
// Counting: a dropped span counts once, as head, tail (the tail ratio) or rate
// limit, by what dropped its trace, even when no tail rule rescued it; traces
// count once per decision. spans_decided_late counts spans that follow a
// decision made on held spans, i.e. that came after their trace went quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "config/config.h"
#include "span/span_consumer.h"
#include "span/sampling_rules.h"
#include "span/span.h"

namespace spanwire {

class Metrics;

struct SamplerLimits {
  size_t max_held = 100'000;        // spans waiting for a tail decision; beyond, the oldest trace is decided early
  size_t max_remembered = 200'000;  // trace decisions kept for later spans; beyond, the oldest are forgotten
};

class TraceSampler final : public SpanProcessor {
 public:
  TraceSampler(SpanConsumer& next, Metrics& metrics, SamplingSettings settings, SamplerLimits limits = {});

  void consume(Span span) override;
  // Time (CLOCK_MONOTONIC) for everything: quiet periods, the rate ceiling and
  // how long decisions are remembered all run on the last tick's clock. Call it
  // before the linker's tick, so that the spans it releases see the same time.
  void tick(uint64_t now_ns);
  // Decides every held trace now, then flushes the next stage.
  void flush(std::chrono::milliseconds timeout) override;

  size_t held() const { return held_; }
  size_t remembered() const { return decided_.size(); }
  // Whether a span whose ids the kernel decided can be judged without its
  // tree when its sampled flag is its tree's (SpanLinkage::decided_flags_certain):
  // that flag says all the head sampler needs. Then the trace
  // linker need not hold such spans for their parents.
  bool judges_decided_spans_alone() const { return head_.sampled_parent_same_as_root(); }

 private:
  enum class Outcome : uint8_t { kKept, kHead, kTail, kRateLimit };
  enum class Rule : uint8_t { kNone, kError, kSlow };

  struct Decision {
    Outcome outcome = Outcome::kKept;
    bool waited = false;  // decided on a held group: later spans count as late
    uint64_t expiry = 0;
  };
  struct Held {
    std::vector<Span> spans;
    uint64_t deadline = 0;  // decided when the trace has been quiet until then
  };
  struct Due {
    uint64_t at;
    TraceId trace;
  };

  // Head and tail ratio, on what one span of the trace tells (its header's flag, its tracestate).
  Outcome first_verdict(const Span& evidence) const;
  Rule rescue(const std::vector<Span>& spans) const;
  // Applies the rate ceiling, counts the trace, and remembers the decision.
  Outcome conclude(const TraceId& trace, Outcome outcome, Rule rule, bool waited);
  void follow(Decision& decision, Span&& span);
  void forward(Span&& span);
  void drop(Outcome why, size_t spans);
  void hold(Span&& span);
  void decide_held(absl::flat_hash_map<TraceId, Held>::iterator it);
  bool decide_oldest_held();
  void remember(const TraceId& trace, Decision decision);
  void forget_until(uint64_t now, size_t room);

  Metrics& metrics_;
  SamplingSettings settings_;
  SamplerLimits limits_;
  HeadSampler head_;
  uint64_t tail_threshold_;
  bool rules_on_;
  std::optional<TokenBucket> rate_limit_;
  uint64_t wait_ns_;
  uint64_t remember_ns_;
  uint64_t now_ = 0;

  size_t held_ = 0;
  absl::flat_hash_map<TraceId, Held> held_traces_;
  std::deque<Due> held_due_;  // by time; an entry is stale when its trace's deadline moved on
  absl::flat_hash_map<TraceId, Decision> decided_;  // looked up for every span
  std::deque<Due> decided_due_;  // by expiry; stale when the decision was refreshed
};

}  // namespace spanwire
