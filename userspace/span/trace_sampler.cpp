#include "span/trace_sampler.h"

#include <algorithm>
#include <cstring>

#include "metrics/metrics.h"

namespace spanwire {

namespace {
constexpr uint64_t kNsPerMs = 1'000'000;
// A trace's spans leave the linker spread over the trace's own duration (each
// one a link window after it ended), so decisions outlive the quiet period by
// far, and never less than this.
constexpr uint64_t kMinRememberNs = 5'000 * kNsPerMs;
constexpr uint32_t kSampledFlag = 0x01;  // W3C trace flags

uint64_t to_ns(std::chrono::milliseconds ms) {
  return static_cast<uint64_t>(std::max<int64_t>(0, ms.count())) * kNsPerMs;
}
}  // namespace

TraceSampler::TraceSampler(SpanConsumer& next, Metrics& metrics, SamplingSettings settings, SamplerLimits limits)
    : SpanProcessor(next),
      metrics_(metrics),
      settings_(settings),
      limits_(limits),
      head_(settings),
      tail_threshold_(rejection_threshold(settings.tail_ratio)),
      rules_on_(settings.keep_errors || settings.keep_slower_than.count() > 0),
      wait_ns_(to_ns(settings.decision_wait)),
      remember_ns_(std::max(10 * wait_ns_, kMinRememberNs)) {
  if (settings.max_traces_per_second > 0) rate_limit_.emplace(settings.max_traces_per_second);
  limits_.max_remembered = std::max<size_t>(1, limits_.max_remembered);
}

void TraceSampler::consume(Span span) {
  if (auto it = decided_.find(span.trace_id); it != decided_.end()) {
    follow(it->second, std::move(span));
    return;
  }
  if (held_traces_.contains(span.trace_id)) {
    hold(std::move(span));
    return;
  }
  Outcome verdict = first_verdict(span);
  // The tail rules only ever rescue: a trace kept here needs none of its other spans.
  if (verdict != Outcome::kKept && rules_on_) {
    hold(std::move(span));
    return;
  }
  verdict = conclude(span.trace_id, verdict, Rule::kNone, false);
  if (verdict == Outcome::kKept) {
    forward(std::move(span));
  } else {
    drop(verdict, 1);
  }
}

void TraceSampler::tick(uint64_t now_ns) {
  now_ = std::max(now_, now_ns);
  while (!held_due_.empty() && held_due_.front().at <= now_) {
    const Due due = held_due_.front();
    held_due_.pop_front();
    if (auto it = held_traces_.find(due.trace); it != held_traces_.end() && it->second.deadline == due.at)
      decide_held(it);
  }
  forget_until(now_, 0);
}

void TraceSampler::flush(std::chrono::milliseconds timeout) {
  while (decide_oldest_held()) {
  }
  // Every held trace has a queue entry at its deadline; this only guards against a bug.
  while (!held_traces_.empty()) decide_held(held_traces_.begin());
  next_.flush(timeout);
}

TraceSampler::Outcome TraceSampler::first_verdict(const Span& evidence) const {
  const uint64_t randomness = trace_randomness(evidence.trace_id, evidence.trace_state);
  // The linker tells every span of a tree what its top-most header said; a
  // span that did not pass through it speaks for itself.
  std::optional<bool> remote_sampled = evidence.linkage.remote_sampled;
  if (!remote_sampled && evidence.linkage.context != ContextSource::kNone)
    remote_sampled = (evidence.flags & kSampledFlag) != 0;
  if (!head_.keeps(randomness, remote_sampled)) return Outcome::kHead;
  if (!kept_at(randomness, tail_threshold_)) return Outcome::kTail;
  return Outcome::kKept;
}

TraceSampler::Rule TraceSampler::rescue(const std::vector<Span>& spans) const {
  if (settings_.keep_errors &&
      std::any_of(spans.begin(), spans.end(), [](const Span& s) { return s.status == StatusCode::kError; }))
    return Rule::kError;
  if (const uint64_t slow_ns = to_ns(settings_.keep_slower_than); slow_ns > 0) {
    uint64_t first_start = UINT64_MAX, last_end = 0;
    for (const Span& s : spans) {
      first_start = std::min(first_start, s.linkage.start_ns);
      last_end = std::max(last_end, s.linkage.end_ns);
    }
    if (last_end >= first_start && last_end - first_start >= slow_ns) return Rule::kSlow;
  }
  return Rule::kNone;
}

TraceSampler::Outcome TraceSampler::conclude(const TraceId& trace, Outcome outcome, Rule rule, bool waited) {
  if (outcome == Outcome::kKept && rate_limit_ && !rate_limit_->take(now_)) outcome = Outcome::kRateLimit;
  if (outcome == Outcome::kKept) {
    metrics_.traces_sampled++;
    if (rule == Rule::kError) metrics_.traces_kept_error++;
    if (rule == Rule::kSlow) metrics_.traces_kept_slow++;
  } else {
    metrics_.traces_sampled_out++;
  }
  remember(trace, {.outcome = outcome, .waited = waited, .expiry = now_ + remember_ns_});
  return outcome;
}

void TraceSampler::follow(Decision& decision, Span&& span) {
  if (decision.waited) metrics_.spans_decided_late++;
  // A trace still sending spans is remembered longer (one queue entry per tick at most).
  if (const uint64_t expiry = now_ + remember_ns_; expiry > decision.expiry) {
    decision.expiry = expiry;
    decided_due_.push_back({expiry, span.trace_id});
  }
  if (decision.outcome == Outcome::kKept) {
    forward(std::move(span));
  } else {
    drop(decision.outcome, 1);
  }
}

void TraceSampler::forward(Span&& span) {
  span.flags |= kSampledFlag;
  next_.consume(std::move(span));
}

void TraceSampler::drop(Outcome why, size_t spans) {
  switch (why) {
    case Outcome::kHead:
      metrics_.spans_sampled_out_head += spans;
      break;
    case Outcome::kTail:
      metrics_.spans_sampled_out_tail += spans;
      break;
    case Outcome::kRateLimit:
      metrics_.spans_sampled_out_rate_limit += spans;
      break;
    case Outcome::kKept:
      break;
  }
}

void TraceSampler::hold(Span&& span) {
  auto [it, fresh] = held_traces_.try_emplace(span.trace_id);
  Held& trace = it->second;
  trace.spans.push_back(std::move(span));
  ++held_;
  // Ticks are coarse, so a busy trace gets one queue entry per tick, not per span.
  if (const uint64_t deadline = now_ + wait_ns_; fresh || deadline != trace.deadline) {
    trace.deadline = deadline;
    held_due_.push_back({deadline, it->first});
  }
  while (held_ > limits_.max_held && decide_oldest_held()) {
  }
  metrics_.spans_held_sampler = held_;
}

bool TraceSampler::decide_oldest_held() {
  while (!held_due_.empty()) {
    const Due due = held_due_.front();
    held_due_.pop_front();
    if (auto it = held_traces_.find(due.trace); it != held_traces_.end() && it->second.deadline == due.at) {
      decide_held(it);
      return true;
    }
  }
  return false;
}

void TraceSampler::decide_held(absl::flat_hash_map<TraceId, Held>::iterator it) {
  const TraceId trace = it->first;
  std::vector<Span> spans = std::move(it->second.spans);
  held_traces_.erase(it);
  held_ -= spans.size();
  metrics_.spans_held_sampler = held_;

  // The remote parent is the top-most span that came with a header: the earliest to start.
  const Span* evidence = &spans.front();
  const Span* header = nullptr;
  for (const Span& s : spans) {
    const bool has_header = s.linkage.context != ContextSource::kNone;
    if (has_header && (header == nullptr || s.linkage.start_ns < header->linkage.start_ns)) header = &s;
  }
  if (header != nullptr) evidence = header;

  Outcome verdict = first_verdict(*evidence);
  Rule rule = Rule::kNone;
  if (verdict != Outcome::kKept) {
    rule = rescue(spans);
    if (rule != Rule::kNone) verdict = Outcome::kKept;
  }
  verdict = conclude(trace, verdict, rule, true);
  if (verdict != Outcome::kKept) {
    drop(verdict, spans.size());
    return;
  }
  for (Span& s : spans) forward(std::move(s));
}

void TraceSampler::remember(const TraceId& trace, Decision decision) {
  forget_until(now_, 1);
  decided_.insert_or_assign(trace, decision);
  decided_due_.push_back({decision.expiry, trace});
}

void TraceSampler::forget_until(uint64_t now, size_t room) {
  while (!decided_due_.empty()) {
    const Due& due = decided_due_.front();
    const bool full = decided_.size() + room > limits_.max_remembered;
    if (due.at > now && !full) break;
    // Entries left behind by a refresh are skipped: the trace has a later one.
    if (auto it = decided_.find(due.trace); it != decided_.end() && it->second.expiry == due.at) decided_.erase(it);
    decided_due_.pop_front();
  }
}

}  // namespace spanwire
