// TraceSampler and its decision rules over synthetic spans, on a fake clock
// (tick() is the only time source): head samplers, consistent ratios, tail
// rules, the rate ceiling, late spans, memory bounds, flush.
#include "span/trace_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "metrics/metrics.h"
#include "span/sampling_rules.h"

namespace spanwire {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1000 * kMs;
constexpr uint64_t kT0 = 1000 * kSec;  // a CLOCK_MONOTONIC-like origin

struct Record final : SpanConsumer {
  void consume(Span span) override { spans.push_back(std::move(span)); }
  void flush(std::chrono::milliseconds timeout) override { flushes.push_back(timeout); }
  std::vector<Span> spans;
  std::vector<std::chrono::milliseconds> flushes;
};

// A trace id whose 56 rightmost bits (the sampling randomness) are `randomness`;
// `tag` in the leading bytes tells traces of equal randomness apart.
TraceId trace_with(uint64_t randomness, uint32_t tag = 0) {
  TraceId id{};
  for (int i = 0; i < 4; ++i) id[i] = static_cast<uint8_t>(tag >> (24 - 8 * i));
  for (int i = 15; i >= 9; --i, randomness >>= 8) id[i] = static_cast<uint8_t>(randomness);
  return id;
}

constexpr uint64_t kLowRandomness = 0x00000000000001;   // dropped by any ratio below 1
constexpr uint64_t kHighRandomness = 0xffffffffffffff;  // kept by any ratio above 0

Span make_span(const TraceId& trace, uint8_t n, uint64_t start = kT0, uint64_t end = kT0 + 10 * kMs) {
  Span s;
  s.trace_id = trace;
  s.span_id = SpanId{n, 0, 0, 0, 0, 0, 0, 1};
  s.name = "span-" + std::to_string(n);
  s.flags = 1;
  s.linkage.start_ns = start;
  s.linkage.end_ns = end;
  return s;
}

// A span whose trace context came from a traceparent with these flags.
Span from_header(const TraceId& trace, uint8_t n, bool sampled, uint64_t start = kT0) {
  Span s = make_span(trace, n, start, start + 10 * kMs);
  s.linkage.context = ContextSource::kTraceparent;
  s.flags = sampled ? 1 : 0;
  return s;
}

Span with_error(Span s) {
  s.status = StatusCode::kError;
  return s;
}

// Every counter the sampler touches, compared at once so that each test checks them all.
struct Counts {
  uint64_t head = 0, tail = 0, rate_limit = 0, late = 0, kept_error = 0, kept_slow = 0, sampled = 0, sampled_out = 0;
  bool operator==(const Counts&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{head " << c.head << ", tail " << c.tail << ", rate_limit " << c.rate_limit << ", late " << c.late
            << ", kept_error " << c.kept_error << ", kept_slow " << c.kept_slow << ", sampled " << c.sampled
            << ", sampled_out " << c.sampled_out << "}";
}

Counts counts(const Metrics& m) {
  return {m.spans_sampled_out_head,  m.spans_sampled_out_tail, m.spans_sampled_out_rate_limit,
          m.spans_decided_late,      m.traces_kept_error,      m.traces_kept_slow,
          m.traces_sampled,          m.traces_sampled_out};
}

SamplingSettings settings(SamplerKind kind, double ratio = 1.0) {
  SamplingSettings s;
  s.sampler = kind;
  s.ratio = ratio;
  s.keep_errors = false;
  return s;
}

std::vector<TraceId> random_traces(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<TraceId> ids(n);
  for (auto& id : ids) {
    const uint64_t high = rng(), low = rng();
    for (int i = 0; i < 8; ++i) {
      id[i] = static_cast<uint8_t>(high >> (56 - 8 * i));
      id[8 + i] = static_cast<uint8_t>(low >> (56 - 8 * i));
    }
  }
  return ids;
}

std::set<TraceId> traces_of(const std::vector<Span>& spans) {
  std::set<TraceId> out;
  for (const Span& s : spans) out.insert(s.trace_id);
  return out;
}

class TraceSamplerTest : public ::testing::Test {
 protected:
  Record out;
  Metrics metrics;
};

// ---- decision rules ----

// The 1-in-N table of trace/tracestate-probability-sampling.md, at the
// recommended precision of 4 (left-aligned to 14 hex digits).
TEST(SamplingRulesTest, ThresholdsMatchTheSpecificationTable) {
  struct Row {
    double ratio;
    uint64_t threshold;
  };
  const Row rows[] = {
      {1, 0},
      {0.5, 0x80000000000000},
      {1.0 / 3, 0xaaab0000000000},
      {0.25, 0xc0000000000000},
      {0.2, 0xcccd0000000000},
      {0.125, 0xe0000000000000},
      {0.1, 0xe6660000000000},
      {0.0625, 0xf0000000000000},
      {0.01, 0xfd70a000000000},
      {0.001, 0xffbe7700000000},
      {0.0001, 0xfff97240000000},
      {0.00001, 0xffff583a000000},
      {0.000001, 0xffffef39000000},
  };
  for (const Row& row : rows) EXPECT_EQ(rejection_threshold(row.ratio), row.threshold) << row.ratio;
}

TEST(SamplingRulesTest, ThresholdLimits) {
  EXPECT_EQ(rejection_threshold(0), kNeverSampleThreshold);
  EXPECT_EQ(rejection_threshold(-1), kNeverSampleThreshold);
  EXPECT_EQ(rejection_threshold(std::nan("")), kNeverSampleThreshold);
  EXPECT_EQ(rejection_threshold(0x1p-57), kNeverSampleThreshold);
  EXPECT_EQ(rejection_threshold(0x1p-56), kNeverSampleThreshold - 1);  // keeps 1 out of 2^56
  EXPECT_EQ(rejection_threshold(2), 0u);
  // Near 1 the leading zeros do not count as precision: 0.999 -> 0x004189 (6 digits).
  EXPECT_EQ(rejection_threshold(0.999), 0x00418900000000u);
}

TEST(SamplingRulesTest, KeptWhenRandomnessReachesTheThreshold) {
  const uint64_t t = rejection_threshold(0.1);
  EXPECT_TRUE(kept_at(trace_randomness(trace_with(t), ""), t));
  EXPECT_FALSE(kept_at(trace_randomness(trace_with(t - 1), ""), t));
  EXPECT_TRUE(kept_at(0, 0));                                      // ratio 1 keeps everything
  EXPECT_FALSE(kept_at(kHighRandomness, kNeverSampleThreshold));  // ratio 0 keeps nothing
}

TEST(SamplingRulesTest, RandomnessIsTheRightmostSevenBytes) {
  TraceId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(0xa0 + i);
  EXPECT_EQ(trace_randomness(id, ""), 0xa9aaabacadaeafu);
}

TEST(SamplingRulesTest, ExplicitRandomnessFromTraceState) {
  const TraceId id = trace_with(kLowRandomness);
  EXPECT_EQ(trace_randomness(id, "vendor=a, ot=th:8;rv:6e6d1a75832a2f ,other=b"), 0x6e6d1a75832a2fu);
  EXPECT_EQ(explicit_randomness("ot=rv:ffffffffffffff"), kHighRandomness);
  // Anything but exactly 14 hex digits is no explicit randomness: the trace id's is used.
  EXPECT_EQ(explicit_randomness("ot=rv:6e6d1a75832a2"), std::nullopt);
  EXPECT_EQ(explicit_randomness("ot=rv:6e6d1a75832a2g"), std::nullopt);
  EXPECT_EQ(explicit_randomness("ot=th:8"), std::nullopt);
  EXPECT_EQ(explicit_randomness("xot=rv:6e6d1a75832a2f"), std::nullopt);
  EXPECT_EQ(explicit_randomness(""), std::nullopt);
  EXPECT_EQ(trace_randomness(id, "ot=rv:zz"), kLowRandomness);
}

TEST(SamplingRulesTest, TokenBucketHoldsOneSecondAndRefills) {
  TokenBucket bucket(5);
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += bucket.take(kT0);
  EXPECT_EQ(taken, 5);
  EXPECT_FALSE(bucket.take(kT0 + 100 * kMs));  // half a token
  EXPECT_TRUE(bucket.take(kT0 + 250 * kMs));
  TokenBucket slow(0.5);  // at least one token of burst
  EXPECT_TRUE(slow.take(kT0));
  EXPECT_FALSE(slow.take(kT0 + kSec));
  EXPECT_TRUE(slow.take(kT0 + 2 * kSec + kMs));
}

// ---- head samplers ----

TEST_F(TraceSamplerTest, AlwaysOnKeepsEverythingAndSetsTheSampledFlag) {
  TraceSampler sampler(out, metrics, settings(SamplerKind::kAlwaysOn));
  sampler.consume(make_span(trace_with(kLowRandomness, 1), 1));
  sampler.consume(from_header(trace_with(kLowRandomness, 2), 2, /*sampled=*/false));  // flag ignored
  ASSERT_EQ(out.spans.size(), 2u);
  for (const Span& s : out.spans) EXPECT_EQ(s.flags & 1, 1u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 2}));
}

// The linker may release kernel-decided spans without their tree only where
// a sampled remote parent and a local root are judged alike.
TEST_F(TraceSamplerTest, JudgesDecidedSpansAloneWhereSampledParentEqualsRoot) {
  const std::pair<SamplingSettings, bool> cases[] = {
      {settings(SamplerKind::kParentBasedAlwaysOn), true},
      {settings(SamplerKind::kParentBasedTraceIdRatio, 1.0), true},
      {settings(SamplerKind::kAlwaysOn), true},
      {settings(SamplerKind::kTraceIdRatio, 0.25), true},  // ignores parents altogether
      {settings(SamplerKind::kAlwaysOff), true},
      {settings(SamplerKind::kParentBasedTraceIdRatio, 0.25), false},
      {settings(SamplerKind::kParentBasedAlwaysOff), false},
  };
  for (const auto& [s, alone] : cases) {
    TraceSampler sampler(out, metrics, s);
    EXPECT_EQ(sampler.judges_decided_spans_alone(), alone) << static_cast<int>(s.sampler) << " " << s.ratio;
  }
}

TEST_F(TraceSamplerTest, AlwaysOffDropsEverything) {
  TraceSampler sampler(out, metrics, settings(SamplerKind::kAlwaysOff));
  sampler.consume(make_span(trace_with(kHighRandomness, 1), 1));
  sampler.consume(make_span(trace_with(kHighRandomness, 1), 2));
  sampler.consume(from_header(trace_with(kHighRandomness, 2), 3, /*sampled=*/true));  // flag ignored
  EXPECT_TRUE(out.spans.empty());
  EXPECT_EQ(sampler.held(), 0u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 3, .sampled_out = 2}));
}

TEST_F(TraceSamplerTest, RatioDecisionsAreConsistentAcrossInstancesAndArrivalOrders) {
  const auto ids = random_traces(20'000, 42);
  Record other_out;
  Metrics other_metrics;
  TraceSampler first(out, metrics, settings(SamplerKind::kTraceIdRatio, 0.25));
  TraceSampler second(other_out, other_metrics, settings(SamplerKind::kTraceIdRatio, 0.25));
  // Two spans per trace; the second instance sees the traces and their spans in reverse.
  for (const TraceId& id : ids) {
    first.consume(make_span(id, 1));
    first.consume(make_span(id, 2));
  }
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    second.consume(make_span(*it, 2));
    second.consume(make_span(*it, 1));
  }
  const auto kept = traces_of(out.spans);
  EXPECT_EQ(kept, traces_of(other_out.spans));
  EXPECT_EQ(out.spans.size(), 2 * kept.size());  // no trace split
  const double fraction = static_cast<double>(kept.size()) / ids.size();
  EXPECT_NEAR(fraction, 0.25, 0.015);  // ~5 standard deviations
  const Counts expected{.head = 2 * (ids.size() - kept.size()), .sampled = kept.size(),
                        .sampled_out = ids.size() - kept.size()};
  EXPECT_EQ(counts(metrics), expected);
  EXPECT_EQ(counts(other_metrics), expected);
  // Each decision is the specification's R >= T on the trace id.
  for (const TraceId& id : ids)
    EXPECT_EQ(kept.contains(id), kept_at(trace_randomness(id, ""), rejection_threshold(0.25)));
}

TEST_F(TraceSamplerTest, RatioIsMonotonic) {
  const auto ids = random_traces(20'000, 7);
  Record wide_out;
  Metrics wide_metrics;
  TraceSampler narrow(out, metrics, settings(SamplerKind::kTraceIdRatio, 0.1));
  TraceSampler wide(wide_out, wide_metrics, settings(SamplerKind::kTraceIdRatio, 0.5));
  for (const TraceId& id : ids) {
    narrow.consume(make_span(id, 1));
    wide.consume(make_span(id, 1));
  }
  const auto kept_narrow = traces_of(out.spans), kept_wide = traces_of(wide_out.spans);
  EXPECT_TRUE(std::includes(kept_wide.begin(), kept_wide.end(), kept_narrow.begin(), kept_narrow.end()));
  EXPECT_NEAR(static_cast<double>(kept_narrow.size()) / ids.size(), 0.1, 0.01);
  EXPECT_NEAR(static_cast<double>(kept_wide.size()) / ids.size(), 0.5, 0.02);
  EXPECT_EQ(counts(metrics), (Counts{.head = ids.size() - kept_narrow.size(), .sampled = kept_narrow.size(),
                                     .sampled_out = ids.size() - kept_narrow.size()}));
}

TEST_F(TraceSamplerTest, ExplicitRandomnessInTheHeaderDecides) {
  TraceSampler sampler(out, metrics, settings(SamplerKind::kTraceIdRatio, 0.5));
  Span s = from_header(trace_with(kLowRandomness, 1), 1, /*sampled=*/false);
  s.trace_state = "ot=rv:ffffffffffffff";
  sampler.consume(std::move(s));
  EXPECT_EQ(out.spans.size(), 1u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 1}));
}

TEST_F(TraceSamplerTest, ParentBasedFollowsTheRemoteParent) {
  // The root sampler would keep every local trace; the remote parent's flag rules header traces.
  TraceSampler sampler(out, metrics, settings(SamplerKind::kParentBasedAlwaysOn));
  sampler.consume(from_header(trace_with(kHighRandomness, 1), 1, /*sampled=*/false));
  sampler.consume(from_header(trace_with(kHighRandomness, 2), 2, /*sampled=*/true));
  sampler.consume(make_span(trace_with(kLowRandomness, 3), 3));  // started here: root sampler
  ASSERT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(out.spans[0].name, "span-2");
  EXPECT_EQ(out.spans[1].name, "span-3");
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .sampled = 2, .sampled_out = 1}));
}

TEST_F(TraceSamplerTest, ParentBasedRatioUsesTheRatioForLocalRoots) {
  TraceSampler sampler(out, metrics, settings(SamplerKind::kParentBasedTraceIdRatio, 0.5));
  sampler.consume(from_header(trace_with(kLowRandomness, 1), 1, /*sampled=*/true));   // kept: parent
  sampler.consume(from_header(trace_with(kHighRandomness, 2), 2, /*sampled=*/false));  // dropped: parent
  sampler.consume(make_span(trace_with(kHighRandomness, 3), 3));                       // kept: ratio
  sampler.consume(make_span(trace_with(kLowRandomness, 4), 4));                        // dropped: ratio
  ASSERT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(out.spans[0].name, "span-1");
  EXPECT_EQ(out.spans[1].name, "span-3");
  EXPECT_EQ(counts(metrics), (Counts{.head = 2, .sampled = 2, .sampled_out = 2}));
}

TEST_F(TraceSamplerTest, HeldTraceTakesTheTopMostHeader) {
  // With a tail rule on, a trace the first span would drop is held and decided as a whole:
  // the header span that started first (the top-most) carries the remote parent's flag.
  SamplingSettings s = settings(SamplerKind::kParentBasedAlwaysOff);
  s.keep_errors = true;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  const TraceId trace = trace_with(kHighRandomness, 1);
  sampler.consume(make_span(trace, 1, kT0 + 5 * kMs, kT0 + 6 * kMs));    // local child: no header
  sampler.consume(from_header(trace, 2, /*sampled=*/false, kT0 + 3 * kMs));  // a lower header
  sampler.consume(from_header(trace, 3, /*sampled=*/true, kT0 + 1 * kMs));   // the top-most one
  EXPECT_EQ(sampler.held(), 3u);
  EXPECT_EQ(metrics.spans_held_sampler.load(), 3u);
  sampler.tick(kT0 + 500 * kMs);
  EXPECT_EQ(out.spans.size(), 3u);
  EXPECT_EQ(sampler.held(), 0u);
  EXPECT_EQ(metrics.spans_held_sampler.load(), 0u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 1}));
}

TEST_F(TraceSamplerTest, FirstSpanDecidesWhenNothingIsHeld) {
  // No tail rule: the trace is decided on its first span, and a header span that
  // comes later follows that decision rather than splitting the trace.
  TraceSampler sampler(out, metrics, settings(SamplerKind::kParentBasedAlwaysOn));
  const TraceId trace = trace_with(kLowRandomness, 1);
  sampler.consume(make_span(trace, 1));
  sampler.consume(from_header(trace, 2, /*sampled=*/false));
  ASSERT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(out.spans[1].flags & 1, 1u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 1}));
}

// ---- tail rules ----

TEST_F(TraceSamplerTest, ErrorRescuesATraceTheRatioDropped) {
  SamplingSettings s = settings(SamplerKind::kTraceIdRatio, 0.5);
  s.keep_errors = true;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  const TraceId failing = trace_with(kLowRandomness, 1), fine = trace_with(kLowRandomness, 2);
  sampler.consume(make_span(failing, 1));
  sampler.consume(make_span(fine, 2));
  sampler.tick(kT0 + 300 * kMs);
  sampler.consume(with_error(make_span(failing, 3)));  // keeps the trace from going quiet
  sampler.tick(kT0 + 500 * kMs);                             // `fine` has been quiet for 500 ms
  EXPECT_TRUE(out.spans.empty());
  EXPECT_EQ(sampler.held(), 2u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .sampled_out = 1}));
  sampler.tick(kT0 + 800 * kMs);
  ASSERT_EQ(out.spans.size(), 2u);
  for (const Span& span : out.spans) {
    EXPECT_EQ(span.trace_id, failing);
    EXPECT_EQ(span.flags & 1, 1u);
  }
  EXPECT_EQ(sampler.held(), 0u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .kept_error = 1, .sampled = 1, .sampled_out = 1}));
}

TEST_F(TraceSamplerTest, SlowTraceIsRescued) {
  SamplingSettings s = settings(SamplerKind::kTraceIdRatio, 0.5);
  s.keep_slower_than = std::chrono::milliseconds(100);
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  const TraceId slow = trace_with(kLowRandomness, 1), quick = trace_with(kLowRandomness, 2);
  // The local trace lasts from its first start to its last end: 150 ms over two spans.
  sampler.consume(make_span(slow, 1, kT0, kT0 + 60 * kMs));
  sampler.consume(make_span(slow, 2, kT0 + 100 * kMs, kT0 + 150 * kMs));
  sampler.consume(make_span(quick, 3, kT0, kT0 + 99 * kMs));
  sampler.tick(kT0 + 500 * kMs);
  ASSERT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(traces_of(out.spans), std::set<TraceId>{slow});
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .kept_slow = 1, .sampled = 1, .sampled_out = 1}));
}

TEST_F(TraceSamplerTest, TailRatioThinsWhatTheHeadKept) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOn);
  s.tail_ratio = 0.5;
  TraceSampler sampler(out, metrics, s);
  const auto ids = random_traces(2'000, 3);
  for (const TraceId& id : ids) sampler.consume(make_span(id, 1));
  const auto kept = traces_of(out.spans);
  for (const TraceId& id : ids) EXPECT_EQ(kept.contains(id), kept_at(trace_randomness(id, ""), 0x80000000000000));
  EXPECT_NEAR(static_cast<double>(kept.size()) / ids.size(), 0.5, 0.06);
  const uint64_t dropped = ids.size() - kept.size();
  EXPECT_EQ(counts(metrics), (Counts{.tail = dropped, .sampled = kept.size(), .sampled_out = dropped}));
}

TEST_F(TraceSamplerTest, ErrorRescuesATraceTheTailRatioDropped) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOn);
  s.tail_ratio = 0.5;
  s.keep_errors = true;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  sampler.consume(with_error(make_span(trace_with(kLowRandomness, 1), 1)));
  sampler.consume(make_span(trace_with(kLowRandomness, 2), 2));
  sampler.consume(make_span(trace_with(kHighRandomness, 3), 3));  // kept at once
  EXPECT_EQ(out.spans.size(), 1u);
  sampler.tick(kT0 + 500 * kMs);
  ASSERT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(out.spans[1].name, "span-1");
  EXPECT_EQ(counts(metrics), (Counts{.tail = 1, .kept_error = 1, .sampled = 2, .sampled_out = 1}));
}

// ---- rate ceiling ----

TEST_F(TraceSamplerTest, RateCeilingKeepsOneSecondsWorthThenTheRate) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOn);
  s.max_traces_per_second = 5;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  const auto ids = random_traces(1'100, 11);
  for (size_t i = 0; i < 100; ++i) sampler.consume(make_span(ids[i], 1));  // a burst
  EXPECT_EQ(out.spans.size(), 5u);
  EXPECT_EQ(counts(metrics), (Counts{.rate_limit = 95, .sampled = 5, .sampled_out = 95}));
  // Then 100 traces a second for 10 s: 5 a second pass.
  for (size_t i = 100; i < ids.size(); ++i) {
    sampler.tick(kT0 + (i - 99) * 10 * kMs);
    sampler.consume(make_span(ids[i], 1));
  }
  const uint64_t kept = out.spans.size() - 5;
  EXPECT_GE(kept, 49u);
  EXPECT_LE(kept, 51u);
  EXPECT_EQ(counts(metrics), (Counts{.rate_limit = 1'100 - out.spans.size(), .sampled = out.spans.size(),
                                     .sampled_out = 1'100 - out.spans.size()}));
}

TEST_F(TraceSamplerTest, RateCeilingCountsATraceOnce) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOn);
  s.max_traces_per_second = 1;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  const TraceId a = trace_with(kHighRandomness, 1), b = trace_with(kHighRandomness, 2);
  for (uint8_t n = 1; n <= 3; ++n) sampler.consume(make_span(a, n));
  sampler.consume(make_span(b, 4));
  sampler.consume(make_span(b, 5));
  EXPECT_EQ(out.spans.size(), 3u);
  EXPECT_EQ(traces_of(out.spans), std::set<TraceId>{a});
  EXPECT_EQ(counts(metrics), (Counts{.rate_limit = 2, .sampled = 1, .sampled_out = 1}));
}

TEST_F(TraceSamplerTest, RateCeilingAppliesToRescuedTraces) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOff);
  s.keep_errors = true;
  s.max_traces_per_second = 1;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  sampler.consume(with_error(make_span(trace_with(kHighRandomness, 1), 1)));
  sampler.consume(with_error(make_span(trace_with(kHighRandomness, 2), 2)));
  sampler.tick(kT0 + 500 * kMs);
  EXPECT_EQ(out.spans.size(), 1u);
  EXPECT_EQ(counts(metrics), (Counts{.rate_limit = 1, .kept_error = 1, .sampled = 1, .sampled_out = 1}));
}

// ---- late spans, bounds, flush ----

TEST_F(TraceSamplerTest, LateSpansFollowTheDecision) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOff);
  s.keep_errors = true;
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  const TraceId kept = trace_with(kHighRandomness, 1), dropped = trace_with(kHighRandomness, 2);
  sampler.consume(with_error(make_span(kept, 1)));
  sampler.consume(make_span(dropped, 2));
  sampler.tick(kT0 + 500 * kMs);
  EXPECT_EQ(out.spans.size(), 1u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .kept_error = 1, .sampled = 1, .sampled_out = 1}));
  // Later spans without an error follow their trace; errors no longer change a dropped one.
  sampler.tick(kT0 + 2 * kSec);
  sampler.consume(make_span(kept, 3));
  sampler.consume(with_error(make_span(dropped, 4)));
  ASSERT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(out.spans[1].name, "span-3");
  EXPECT_EQ(out.spans[1].flags & 1, 1u);
  EXPECT_EQ(sampler.held(), 0u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 2, .late = 2, .kept_error = 1, .sampled = 1, .sampled_out = 1}));
}

TEST_F(TraceSamplerTest, DecisionsAreForgottenAfterAWhile) {
  TraceSampler sampler(out, metrics, settings(SamplerKind::kAlwaysOn));
  sampler.tick(kT0);
  sampler.consume(make_span(trace_with(kHighRandomness, 1), 1));
  EXPECT_EQ(sampler.remembered(), 1u);
  sampler.tick(kT0 + 4 * kSec);
  EXPECT_EQ(sampler.remembered(), 1u);
  sampler.tick(kT0 + 60 * kSec);
  EXPECT_EQ(sampler.remembered(), 0u);
  // A span after that starts the trace's decision anew.
  sampler.consume(make_span(trace_with(kHighRandomness, 1), 2));
  EXPECT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 2}));
}

TEST_F(TraceSamplerTest, RememberedDecisionsAreBounded) {
  TraceSampler sampler(out, metrics, settings(SamplerKind::kAlwaysOn), {.max_remembered = 100});
  const auto ids = random_traces(1'000, 5);
  for (const TraceId& id : ids) {
    sampler.consume(make_span(id, 1));
    ASSERT_LE(sampler.remembered(), 100u);
  }
  EXPECT_EQ(sampler.remembered(), 100u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 1'000}));
}

TEST_F(TraceSamplerTest, HeldSpansAreBoundedOldestTraceFirst) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOff);
  s.keep_errors = true;
  s.decision_wait = std::chrono::milliseconds(60'000);  // nothing goes quiet during the test
  TraceSampler sampler(out, metrics, s, {.max_held = 10});
  sampler.tick(kT0);
  for (uint32_t i = 0; i < 15; ++i) {
    sampler.tick(kT0 + i * 100 * kMs);  // one trace per tick: their deadlines are ordered
    sampler.consume(make_span(trace_with(kHighRandomness, i), 1));
    ASSERT_LE(sampler.held(), 10u);
  }
  EXPECT_EQ(sampler.held(), 10u);
  EXPECT_EQ(metrics.spans_held_sampler.load(), 10u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 5, .sampled_out = 5}));
  // The five decided early are the oldest: their next spans are late.
  for (uint32_t i = 0; i < 5; ++i) sampler.consume(make_span(trace_with(kHighRandomness, i), 2));
  EXPECT_EQ(sampler.held(), 10u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 10, .late = 5, .sampled_out = 5}));
}

TEST_F(TraceSamplerTest, FlushDecidesEverythingThenFlushesTheNextStage) {
  SamplingSettings s = settings(SamplerKind::kAlwaysOff);
  s.keep_errors = true;
  s.decision_wait = std::chrono::milliseconds(60'000);
  TraceSampler sampler(out, metrics, s);
  sampler.tick(kT0);
  sampler.consume(with_error(make_span(trace_with(kHighRandomness, 1), 1)));
  sampler.consume(make_span(trace_with(kHighRandomness, 1), 2));
  sampler.consume(make_span(trace_with(kHighRandomness, 2), 3));
  sampler.tick(kT0 + 10 * kSec);
  EXPECT_EQ(sampler.held(), 3u);
  sampler.flush(std::chrono::milliseconds(1234));
  EXPECT_EQ(sampler.held(), 0u);
  EXPECT_EQ(metrics.spans_held_sampler.load(), 0u);
  EXPECT_EQ(out.spans.size(), 2u);
  ASSERT_EQ(out.flushes.size(), 1u);
  EXPECT_EQ(out.flushes[0], std::chrono::milliseconds(1234));
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .kept_error = 1, .sampled = 1, .sampled_out = 1}));
}

TEST_F(TraceSamplerTest, DefaultSettingsPassSpansStraightThrough) {
  TraceSampler sampler(out, metrics, SamplingSettings{});  // no tick at all
  const auto ids = random_traces(100, 9);
  for (size_t i = 0; i < ids.size(); ++i) {
    sampler.consume(make_span(ids[i], 1));
    sampler.consume(with_error(make_span(ids[i], 2)));
    sampler.consume(from_header(ids[i], 3, /*sampled=*/true));
    ASSERT_EQ(out.spans.size(), 3 * (i + 1));
  }
  EXPECT_EQ(sampler.held(), 0u);
  EXPECT_EQ(metrics.spans_held_sampler.load(), 0u);
  EXPECT_EQ(counts(metrics), (Counts{.sampled = 100}));
}

TEST_F(TraceSamplerTest, DefaultSettingsHoldAnUnsampledRemoteParentForTheErrorRule) {
  TraceSampler sampler(out, metrics, SamplingSettings{});
  sampler.tick(kT0);
  const TraceId failing = trace_with(kHighRandomness, 1), quiet = trace_with(kHighRandomness, 2);
  sampler.consume(from_header(failing, 1, /*sampled=*/false));
  sampler.consume(with_error(make_span(failing, 2)));
  sampler.consume(from_header(quiet, 3, /*sampled=*/false));
  EXPECT_TRUE(out.spans.empty());
  sampler.tick(kT0 + 500 * kMs);
  EXPECT_EQ(traces_of(out.spans), std::set<TraceId>{failing});
  EXPECT_EQ(out.spans.size(), 2u);
  EXPECT_EQ(counts(metrics), (Counts{.head = 1, .kept_error = 1, .sampled = 1, .sampled_out = 1}));
}

}  // namespace
}  // namespace spanwire
