// TraceLinker over synthetic spans: the two-tier call in every arrival order,
// concurrent interleaved requests, missing partners, header context, bounds.
#include "span/trace_linker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <linux/types.h>

#include "metrics/metrics.h"
#include "spanwire.h"

namespace spanwire {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kWindow = 1000 * kMs;

struct Collect final : SpanConsumer {
  void consume(Span span) override { spans.push_back(std::move(span)); }
  void flush(std::chrono::milliseconds) override {}
  std::vector<Span> spans;
};

SpanId id_of(uint8_t n) { return SpanId{n, 0, 0, 0, 0, 0, 0, 1}; }
TraceId trace_of(uint8_t n) { return TraceId{n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}; }

// A connection between two local ports; the request's position in its stream.
ExchangeKey key(uint16_t client_port, uint16_t server_port, uint64_t position) {
  ExchangeKey k;
  k.client_addr[15] = k.server_addr[15] = 1;
  k.client_port = client_port;
  k.server_port = server_port;
  k.position = position;
  return k;
}

Span make(uint8_t n, SpanKind kind, uint32_t tgid, uint32_t tid, std::optional<ExchangeKey> k, uint64_t start,
          uint64_t end) {
  Span s;
  s.name = std::to_string(n);
  s.kind = kind;
  s.span_id = id_of(n);
  s.trace_id = trace_of(n);  // random per span, as the builder makes it
  s.linkage.tgid = tgid;
  s.linkage.tid = tid;
  s.linkage.key = k;
  s.linkage.start_ns = start;
  s.linkage.end_ns = end;
  return s;
}

std::string attr(const Span& s, const char* key) { return s.string_attr(key); }

class TraceLinkerTest : public ::testing::Test {
 protected:
  const Span& by_name(const std::string& name) {
    auto it = std::find_if(out.spans.begin(), out.spans.end(), [&](const Span& s) { return s.name == name; });
    EXPECT_NE(it, out.spans.end()) << name;
    return *it;
  }
  Collect out;
  Metrics metrics;
};

// curl (pid 10) -> frontend (pid 20, thread 21) -> backend (pid 30): the four spans
// of a two-tier call.
std::vector<Span> two_tier(uint16_t curl_port, uint16_t front_port, uint64_t t0, uint32_t front_tid = 21) {
  return {
      make(1, SpanKind::kClient, 10, 10, key(curl_port, 8080, 1000), t0, t0 + 10 * kMs),           // curl
      make(2, SpanKind::kServer, 20, front_tid, key(curl_port, 8080, 1000), t0 + 1 * kMs, t0 + 9 * kMs),  // front
      make(3, SpanKind::kClient, 20, front_tid, key(front_port, 9090, 5000), t0 + 2 * kMs, t0 + 8 * kMs),  // call
      make(4, SpanKind::kServer, 30, 31, key(front_port, 9090, 5000), t0 + 3 * kMs, t0 + 7 * kMs),  // backend
  };
}

void expect_two_tier(const std::vector<Span>& spans, uint8_t base = 0) {
  std::map<std::string, const Span*> by;
  for (const Span& s : spans) by[s.name] = &s;
  auto name = [base](int n) { return std::to_string(base + n); };
  ASSERT_EQ(by.count(name(1)) + by.count(name(2)) + by.count(name(3)) + by.count(name(4)), 4u);
  const Span& curl = *by[name(1)];
  EXPECT_FALSE(curl.has_parent());
  EXPECT_EQ(by[name(2)]->parent_span_id, curl.span_id);
  EXPECT_EQ(by[name(3)]->parent_span_id, by[name(2)]->span_id);
  EXPECT_EQ(by[name(4)]->parent_span_id, by[name(3)]->span_id);
  for (int n = 2; n <= 4; ++n) EXPECT_EQ(by[name(n)]->trace_id, curl.trace_id) << n;
  EXPECT_EQ(attr(*by[name(2)], "spanwire.link"), "tuple");
  EXPECT_EQ(attr(*by[name(3)], "spanwire.link"), "thread");
  EXPECT_EQ(attr(*by[name(4)], "spanwire.link"), "tuple");
}

TEST_F(TraceLinkerTest, TwoTierCallInEveryArrivalOrder) {
  std::vector<int> order{0, 1, 2, 3};
  int permutations = 0;
  do {
    Collect sink;
    Metrics m;
    TraceLinker linker(sink, m, {.window_ns = kWindow});
    std::vector<Span> spans = two_tier(40000, 40001, 100 * kMs);
    for (int i : order) linker.consume(spans[i]);
    EXPECT_TRUE(sink.spans.empty()) << "held for the window";
    linker.tick(100 * kMs + 10 * kMs + kWindow);
    ASSERT_EQ(sink.spans.size(), 4u);
    expect_two_tier(sink.spans);
    EXPECT_EQ(m.spans_linked_tuple.load(), 2u);
    EXPECT_EQ(m.spans_linked_thread.load(), 1u);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 24);
}

TEST_F(TraceLinkerTest, ConcurrentInterleavedRequestsStayApart) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  // Three chains on three frontend threads, overlapping in time, arriving mixed.
  std::vector<Span> all;
  for (uint8_t c = 0; c < 3; ++c) {
    std::vector<Span> spans = two_tier(41000 + c, 42000 + c, 100 * kMs + c * kMs, 21 + c);
    for (Span& s : spans) {
      s.name = std::to_string(10 * (c + 1) + std::stoi(s.name));
      s.span_id[0] = static_cast<uint8_t>(10 * (c + 1) + s.span_id[0]);
      s.trace_id[1] = c;
    }
    all.insert(all.end(), spans.begin(), spans.end());
  }
  std::vector<size_t> order{3, 7, 11, 2, 6, 10, 1, 5, 9, 0, 4, 8};
  for (size_t i : order) linker.consume(all[i]);
  linker.flush(std::chrono::milliseconds(0));
  ASSERT_EQ(out.spans.size(), 12u);
  for (uint8_t c = 0; c < 3; ++c) expect_two_tier(out.spans, static_cast<uint8_t>(10 * (c + 1)));
  std::set<TraceId> traces;
  for (const Span& s : out.spans) traces.insert(s.trace_id);
  EXPECT_EQ(traces.size(), 3u);
}

// Go spans carry a goroutine token where others carry a thread: the same rule
// links them, and the link says it was goroutine evidence.
TEST_F(TraceLinkerTest, GoroutineTokensLinkAndSaySo) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  const uint32_t handler = SW_GOROUTINE_TOKEN | 0x1234;
  for (Span& s : two_tier(43000, 43001, 100 * kMs, handler)) linker.consume(std::move(s));
  // Another goroutine of the same process, serving nothing, makes a call at the same time: not linked.
  linker.consume(make(5, SpanKind::kClient, 20, SW_GOROUTINE_TOKEN | 0x9999, key(43002, 9090, 7000),
                      100 * kMs + 3 * kMs, 100 * kMs + 4 * kMs));
  linker.flush(std::chrono::milliseconds(0));
  ASSERT_EQ(out.spans.size(), 5u);
  EXPECT_EQ(by_name("3").parent_span_id, by_name("2").span_id);
  EXPECT_EQ(attr(by_name("3"), "spanwire.link"), "goroutine");
  EXPECT_FALSE(by_name("5").has_parent());
  EXPECT_EQ(metrics.spans_linked_goroutine.load(), 1u);
  EXPECT_EQ(metrics.spans_linked_thread.load(), 0u);
}

TEST_F(TraceLinkerTest, MissingPartnerLeavesARootInItsOwnTrace) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 100 * kMs);
  linker.consume(spans[1]);  // frontend server: its client (curl) was not traced
  linker.consume(spans[2]);
  linker.consume(spans[3]);
  linker.tick(10'000 * kMs);
  ASSERT_EQ(out.spans.size(), 3u);
  const Span& front = by_name("2");
  EXPECT_FALSE(front.has_parent());
  EXPECT_EQ(front.trace_id, trace_of(2));
  EXPECT_EQ(by_name("3").trace_id, front.trace_id);
  EXPECT_EQ(by_name("4").trace_id, front.trace_id);
}

TEST_F(TraceLinkerTest, TraceparentDecidesTheTraceWhileTheTupleDecidesTheParent) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 100 * kMs);
  // curl sent a traceparent: the builder gave curl's and the frontend's span the
  // header's trace and parent.
  const TraceId header_trace = trace_of(0xAB);
  const SpanId header_parent = id_of(0xCD);
  for (int i : {0, 1}) {
    spans[i].trace_id = header_trace;
    spans[i].parent_span_id = header_parent;
    spans[i].linkage.context = ContextSource::kTraceparent;
    spans[i].flags = 0;  // the caller did not sample it
  }
  for (int i : {3, 2, 1, 0}) linker.consume(spans[i]);
  linker.flush(std::chrono::milliseconds(0));
  for (const Span& s : out.spans) EXPECT_EQ(s.trace_id, header_trace) << s.name;
  // Every span of the tree carries the header's sampled flag to the sampler,
  // including those that came without a header.
  for (const Span& s : out.spans) EXPECT_EQ(s.linkage.remote_sampled, std::optional<bool>(false)) << s.name;
  EXPECT_EQ(by_name("1").parent_span_id, header_parent);
  EXPECT_EQ(attr(by_name("1"), "spanwire.link"), "traceparent");
  EXPECT_EQ(by_name("2").parent_span_id, by_name("1").span_id);  // not the header's parent
  EXPECT_EQ(attr(by_name("2"), "spanwire.link"), "tuple");
}

TEST_F(TraceLinkerTest, HeaderParentWhenTheCallerIsNotOnThisHost) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  Span server = make(2, SpanKind::kServer, 20, 21, key(40000, 8080, 1), 0, 5 * kMs);
  server.trace_id = trace_of(0x77);
  server.parent_span_id = id_of(0x66);
  server.linkage.context = ContextSource::kB3;
  linker.consume(server);
  linker.flush(std::chrono::milliseconds(0));
  ASSERT_EQ(out.spans.size(), 1u);
  EXPECT_EQ(out.spans[0].trace_id, trace_of(0x77));
  EXPECT_EQ(out.spans[0].parent_span_id, id_of(0x66));
  EXPECT_EQ(attr(out.spans[0], "spanwire.link"), "b3");
  EXPECT_EQ(out.spans[0].linkage.remote_sampled, std::optional<bool>(true));
}

TEST_F(TraceLinkerTest, NeverLinksACallToARequestNotInFlight) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  // The thread served a request that ended before the call started.
  linker.consume(make(2, SpanKind::kServer, 20, 21, std::nullopt, 0, 5 * kMs));
  linker.consume(make(3, SpanKind::kClient, 20, 21, std::nullopt, 6 * kMs, 8 * kMs));
  // Another thread of the process was serving at the time: an unlinked call.
  linker.consume(make(5, SpanKind::kServer, 20, 22, std::nullopt, 5 * kMs, 9 * kMs));
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_FALSE(by_name("3").has_parent());
  EXPECT_EQ(metrics.calls_unlinked.load(), 1u);
}

TEST_F(TraceLinkerTest, EventLoopAmbiguityPicksTheLatestRequestAndSaysSo) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  linker.consume(make(2, SpanKind::kServer, 20, 21, std::nullopt, 0, 10 * kMs));
  linker.consume(make(5, SpanKind::kServer, 20, 21, std::nullopt, 2 * kMs, 10 * kMs));
  linker.consume(make(3, SpanKind::kClient, 20, 21, std::nullopt, 3 * kMs, 4 * kMs));
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_EQ(by_name("3").parent_span_id, id_of(5));
  EXPECT_EQ(by_name("3").find("spanwire.link.ambiguous") != nullptr, true);
  EXPECT_EQ(metrics.spans_link_ambiguous.load(), 1u);
}

TEST_F(TraceLinkerTest, LateChildJoinsTheReleasedParentsTrace) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 0);
  linker.consume(spans[0]);
  linker.tick(2 * kWindow);  // curl's span is out
  ASSERT_EQ(out.spans.size(), 1u);
  linker.consume(spans[1]);  // the frontend's arrives late: still under curl's
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_EQ(by_name("2").parent_span_id, by_name("1").span_id);
  EXPECT_EQ(by_name("2").trace_id, by_name("1").trace_id);
}

TEST_F(TraceLinkerTest, LateParentIsCountedNotLinked) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 0);
  linker.consume(spans[1]);
  linker.tick(2 * kWindow);
  linker.consume(spans[0]);
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_FALSE(by_name("2").has_parent());
  EXPECT_EQ(metrics.links_too_late.load(), 1u);
}

// The kernel decided ids (linkage.decided_source): front server from the TCP
// option (parent: a remote client span), its call from the thread, the local
// backend from the option of that call. They keep every id, in any order.
// certain: the kernel's SW_CTX_FLAGS_CERTAIN, always set on a fresh root's
// and a header's context; on the others, as the caller's flag was known.
Span decided(Span s, uint8_t source, const TraceId& trace, std::optional<SpanId> parent,
             std::optional<bool> certain = std::nullopt) {
  s.trace_id = trace;
  s.parent_span_id = parent.value_or(SpanId{});
  s.linkage.decided_source = source;
  s.linkage.decided_flags_certain = certain.value_or(source == SW_CTX_FRESH || source == SW_CTX_HEADER);
  return s;
}

// Spans 2-4 of two_tier as the kernel decides them, in trace `trace`: a
// header's (parent: a remote span), the call its thread made, and the server
// that read that call's option; `certain`: whether the kernel knew the
// header's flag below the header (an option that carried it).
std::vector<Span> decided_chain(const std::vector<Span>& spans, const TraceId& trace, bool certain) {
  std::vector<Span> chain = {
      decided(spans[1], SW_CTX_HEADER, trace, id_of(99)),
      decided(spans[2], SW_CTX_THREAD, trace, spans[1].span_id, certain),
      decided(spans[3], SW_CTX_OPTION, trace, spans[2].span_id, certain),
  };
  chain[0].linkage.context = ContextSource::kTraceparent;  // as the builder marks a header's ids
  return chain;
}

TEST_F(TraceLinkerTest, KernelDecidedIdsAreKeptAndLinkedByParentId) {
  const TraceId wire_trace = trace_of(77);
  const SpanId remote_client = id_of(99);
  std::vector<int> order{0, 1, 2};
  do {
    Collect sink;
    Metrics m;
    TraceLinker linker(sink, m, {.window_ns = kWindow});
    std::vector<Span> spans = two_tier(40000, 40001, 0);
    std::vector<Span> wired = {
        decided(spans[1], SW_CTX_OPTION, wire_trace, remote_client),
        decided(spans[2], SW_CTX_THREAD, wire_trace, spans[1].span_id),
        decided(spans[3], SW_CTX_OPTION, wire_trace, spans[2].span_id),
    };
    for (int i : order) linker.consume(wired[i]);
    linker.flush(std::chrono::milliseconds(0));
    ASSERT_EQ(sink.spans.size(), 3u);
    std::map<std::string, const Span*> by;
    for (const Span& s : sink.spans) by[s.name] = &s;
    for (const char* n : {"2", "3", "4"}) EXPECT_EQ(by[n]->trace_id, wire_trace) << n;
    EXPECT_EQ(by["2"]->parent_span_id, remote_client);
    EXPECT_EQ(by["3"]->parent_span_id, by["2"]->span_id);
    EXPECT_EQ(by["4"]->parent_span_id, by["3"]->span_id);
    EXPECT_EQ(attr(*by["2"], "spanwire.link"), "tcp-option");
    EXPECT_EQ(attr(*by["3"], "spanwire.link"), "thread");
    EXPECT_EQ(m.spans_context_kernel.load(), 3u);
    EXPECT_EQ(m.spans_linked_wire.load(), 2u);  // the two whose parent is on this host
    EXPECT_EQ(m.link_conflicts.load(), 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_F(TraceLinkerTest, RulesNeverReparentKernelDecidedSpans) {
  // A fresh client (no thread context in the kernel) on a thread whose server
  // span is undecided: the thread rule would make it a child, but its ids went
  // on the wire as a root of its own trace.
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 0);
  linker.consume(spans[1]);
  linker.consume(decided(spans[2], SW_CTX_FRESH, trace_of(55), std::nullopt));
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_FALSE(by_name("3").has_parent());
  EXPECT_EQ(by_name("3").trace_id, trace_of(55));
  EXPECT_EQ(attr(by_name("3"), "spanwire.link"), "");
}

TEST_F(TraceLinkerTest, UndecidedChildrenJoinTheKernelsTrace) {
  // A TLS call (no kernel context) made while serving a kernel-decided request.
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 0);
  linker.consume(spans[2]);
  linker.consume(decided(spans[1], SW_CTX_OPTION, trace_of(66), id_of(99)));
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_EQ(by_name("3").parent_span_id, by_name("2").span_id);
  EXPECT_EQ(by_name("3").trace_id, trace_of(66));
  EXPECT_EQ(by_name("2").parent_span_id, id_of(99));
}

// When the sampler judges a kernel-decided span by its own flags, the linker
// releases at once the decided spans whose flags the kernel knows to be their
// tree's. Those whose flags are not known (ids from an option that did not
// carry the caller's flag, or from a thread serving such a request) wait for
// their tree. In every arrival order the ids are the kernel's, the local wire
// links are counted, and the header's "not sampled" reaches every span of the
// tree.
TEST_F(TraceLinkerTest, DecidedSpansGoAtOnceWhenTheirFlagsAreTheirTrees) {
  const TraceId wire_trace = trace_of(77);
  std::vector<int> order{0, 1, 2, 3};
  do {
    Collect sink;
    Metrics m;
    TraceLinker linker(sink, m, {.window_ns = kWindow, .release_decided_at_once = true});
    std::vector<Span> spans = two_tier(40000, 40001, 0);
    // The header says "not sampled"; the option did not carry it (taken as sampled).
    std::vector<Span> input = decided_chain(spans, wire_trace, false);
    input.push_back(spans[0]);  // curl's client span, undecided (no context event): the tuple rule
    input[0].flags = input[1].flags = 0;
    for (int i : order) {
      const size_t before = sink.spans.size();
      linker.consume(input[i]);
      EXPECT_EQ(sink.spans.size(), before + (i == 0 ? 1 : 0)) << "only the header's span goes at once";
    }
    EXPECT_EQ(linker.held(), 3u);
    linker.flush(std::chrono::milliseconds(0));
    ASSERT_EQ(sink.spans.size(), 4u);
    std::map<std::string, const Span*> by;
    for (const Span& s : sink.spans) by[s.name] = &s;
    for (const char* n : {"2", "3", "4"}) {
      EXPECT_EQ(by[n]->trace_id, wire_trace) << n;
      EXPECT_EQ(by[n]->linkage.remote_sampled, std::optional<bool>(false)) << n;  // the tree's header
    }
    EXPECT_EQ(by["3"]->parent_span_id, by["2"]->span_id);
    EXPECT_EQ(by["4"]->parent_span_id, by["3"]->span_id);
    EXPECT_EQ(m.spans_linked_wire.load(), 2u) << "order " << order[0] << order[1] << order[2] << order[3];
    EXPECT_EQ(m.spans_context_kernel.load(), 3u);
  } while (std::next_permutation(order.begin(), order.end()));
}

// A chain on one host (or across hosts whose options carried the flag):
// header "not sampled" -> the call its thread made -> the server that read
// the option. The kernel marked every flag certain, so each span goes as it
// comes, in any order, and each is released "not sampled".
TEST_F(TraceLinkerTest, DecidedSpansWithCertainFlagsAllGoAtOnce) {
  const TraceId wire_trace = trace_of(78);
  for (uint8_t sampled : {0, 1}) {
    std::vector<int> order{0, 1, 2};
    do {
      Collect sink;
      Metrics m;
      TraceLinker linker(sink, m, {.window_ns = kWindow, .release_decided_at_once = true});
      std::vector<Span> input = decided_chain(two_tier(40000, 40001, 0), wire_trace, true);
      for (Span& s : input) s.flags = sampled;
      for (int i : order) {
        const size_t before = sink.spans.size();
        linker.consume(input[i]);
        EXPECT_EQ(sink.spans.size(), before + 1) << "span " << i << " waited";
      }
      EXPECT_EQ(linker.held(), 0u);
      for (const Span& s : sink.spans) {
        EXPECT_EQ(s.trace_id, wire_trace);
        if (sampled == 0) EXPECT_EQ(s.linkage.remote_sampled, std::optional<bool>(false)) << s.name;
        else EXPECT_NE(s.linkage.remote_sampled, std::optional<bool>(false)) << s.name;
      }
      EXPECT_EQ(m.spans_linked_wire.load(), 2u);
      // The kernel linked each pair: a partner found released is not "too late".
      EXPECT_EQ(m.links_too_late.load(), 0u);
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST_F(TraceLinkerTest, DecidedSpansAreReleasedBeforeTheWindowOnlyWhenAllowed) {
  for (bool at_once : {false, true}) {
    Collect sink;
    Metrics m;
    TraceLinker linker(sink, m, {.window_ns = kWindow, .release_decided_at_once = at_once});
    std::vector<Span> spans = two_tier(40000, 40001, 0);
    linker.consume(decided(spans[1], SW_CTX_FRESH, trace_of(5), std::nullopt));
    linker.consume(spans[3]);  // undecided: waits for the window either way
    EXPECT_EQ(sink.spans.size(), at_once ? 1u : 0u);
    EXPECT_EQ(linker.held(), at_once ? 1u : 2u);
    linker.tick(2 * kWindow);
    EXPECT_EQ(sink.spans.size(), 2u);
  }
}

// Index entries outlive their forgotten node until a sweep: a partner that
// comes after that finds nothing, exactly as if they were gone, and the
// exchanges after the sweep link as usual.
TEST_F(TraceLinkerTest, ForgottenSpansAreNotFoundByLatePartners) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow});
  std::vector<Span> spans = two_tier(40000, 40001, 0);
  linker.consume(spans[1]);                                       // the frontend's server span
  linker.consume(decided(spans[3], SW_CTX_FRESH, trace_of(66), std::nullopt));  // a decided root
  // Sweeps run once per window from the first tick (0.5, 1.5, 2.5 windows);
  // the spans are released at 1.4 and forgotten at 2.4, so the partners below
  // meet the stale entries themselves.
  linker.tick(kWindow / 2);
  linker.tick(14 * kWindow / 10);
  linker.tick(15 * kWindow / 10);
  linker.tick(24 * kWindow / 10);
  EXPECT_EQ(linker.remembered(), 0u);
  linker.consume(spans[0]);  // curl's client span of the same exchange, far too late
  linker.consume(decided(make(5, SpanKind::kServer, 40, 41, std::nullopt, 0, 1), SW_CTX_OPTION, trace_of(66),
                         spans[3].span_id));  // names the forgotten root as its parent
  linker.flush(std::chrono::milliseconds(0));
  EXPECT_EQ(metrics.links_too_late.load(), 0u);  // nothing left to be too late for
  EXPECT_EQ(metrics.spans_linked_wire.load(), 0u);
  EXPECT_EQ(by_name("5").parent_span_id, spans[3].span_id);  // the kernel's ids stay as they are

  linker.tick(6 * kWindow);  // a sweep drops the stale entries
  for (const Span& s : two_tier(40000, 40001, 7 * kWindow)) linker.consume(s);
  linker.flush(std::chrono::milliseconds(0));
  std::vector<Span> last(out.spans.end() - 4, out.spans.end());
  expect_two_tier(last);
}

TEST_F(TraceLinkerTest, MemoryIsBounded) {
  TraceLinker linker(out, metrics, {.window_ns = kWindow, .max_held = 10});
  for (uint8_t i = 1; i <= 50; ++i) linker.consume(make(i, SpanKind::kClient, 10, i, std::nullopt, i, i + 1));
  EXPECT_EQ(linker.held(), 10u);
  EXPECT_EQ(out.spans.size(), 40u);
  EXPECT_EQ(metrics.spans_released_early.load(), 40u);
  linker.tick(3 * kWindow);  // released spans are forgotten one window later
  linker.tick(5 * kWindow);
  EXPECT_EQ(linker.held(), 0u);
  EXPECT_EQ(linker.remembered(), 0u);  // nothing kept forever
  EXPECT_EQ(out.spans.size(), 50u);
}

}  // namespace
}  // namespace spanwire
