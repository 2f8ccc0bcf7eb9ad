// Stitches the spans of one host into traces, between the span builder and the
// exporter. A finished span is held for a window (default 1 s: the partner of
// an exchange is seen by another process and may arrive later), linked, then
// released with its final trace id and parent:
//  1. tuple:  a server span is the child of the client span of the same
//     exchange (same connection tuple and request position: ExchangeKey);
//  2. thread: a client span is the child of the server span of the same
//     process whose request was read by the thread that made the call, and
//     that was in flight when the call started;
//  3. header: otherwise the request's traceparent/B3 parent (SpanBuilder set it);
//  4. otherwise a root.
// A span whose ids the kernel decided (linkage.decided_source) keeps them:
// they may have gone on the wire. It is never linked by the rules above, only
// under the local span whose id the kernel named as its parent (wire); it
// can still be the parent of undecided spans, which take its trace id. With
// Options::release_decided_at_once (the sampler judges such a span by its
// own flags), a decided span whose flags the kernel knows to be its tree's
// (SpanLinkage::decided_flags_certain: a fresh root, a header, or inherited
// from one through local hops and options that carried the flag) is released
// as it comes: nothing about it waits for the window, and it is still
// remembered for the window as a parent.
// The trace id of a tree is the top-most header's (closest to the root), else
// the root's own random id; once one span of a tree is released, the tree's
// trace id is fixed and later links adopt it (or are refused, counted).
// Memory is bounded: at most Options::max_held spans wait (the oldest leave
// early, counted), and released spans are remembered for one window only, for
// late children.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include "span/span_consumer.h"
#include "span/span.h"

namespace spanwire {

class Metrics;

class TraceLinker final : public SpanProcessor {
 public:
  struct Options {
    uint64_t window_ns = 1'000'000'000;
    size_t max_held = 100'000;
    bool release_decided_at_once = false;  // TraceSampler::judges_decided_spans_alone()
  };

  TraceLinker(SpanConsumer& next, Metrics& metrics, Options options);

  void consume(Span span) override;  // holds it until its window passes
  void flush(std::chrono::milliseconds timeout) override;  // releases everything held
  void tick(uint64_t now);  // releases the spans whose window passed (CLOCK_MONOTONIC)
  size_t held() const { return held_; }
  size_t remembered() const { return live_nodes_; }  // held + released still known

 private:
  enum class Link : uint8_t { kNone, kTuple, kThread, kWire };
  using ThreadKey = std::pair<uint32_t, uint32_t>;  // tgid, tid
  using ByStart = std::multimap<uint64_t, uint64_t>;  // start_ns -> node id

  struct Node {
    Span span;              // moved to the exporter at release
    SpanKind kind{};
    SpanLinkage linkage;    // copies kept after release, for late partners
    SpanId span_id{};
    TraceId own_trace{};    // the builder's: from the request's header, or random
    uint32_t flags = 0;     // the builder's W3C flags (the header's, if it had one)
    uint64_t parent = 0;    // node id; 0: none
    Link link = Link::kNone;
    bool ambiguous = false;       // another in-flight server span of the thread also contained the call
    bool decided = false;         // the kernel decided its ids: trace fixed, parent only by id
    bool released = false;
    std::optional<TraceId> trace;  // decided: on a released node, or on a root whose tree has one
    size_t held_children = 0;      // held nodes linked under this one (keeps a released node known)
    uint64_t expiry = 0;           // release time (held) or forget time (released)
  };

  void add(uint64_t id);
  void on_server(uint64_t id);
  void on_client(uint64_t id);
  void on_decided(uint64_t id);
  bool link(uint64_t child, uint64_t parent, Link how);
  // Visits id, its parent, ... up to the root (or the first node already
  // forgotten), until visit(id, node) returns true; returns the last id visited.
  template <class Visit>
  uint64_t walk_up(uint64_t id, Visit visit);
  // The decided trace id of id's tree, if any; and the node where it is (or the root).
  std::pair<uint64_t, std::optional<TraceId>> tree_of(uint64_t id);
  TraceId choose_trace(uint64_t id);
  // The sampled flag of the top-most header on the way to id's root, if any.
  std::optional<bool> remote_sampled(uint64_t id);
  void release(uint64_t id);
  void forget(uint64_t id);
  void expire_until(uint64_t now, bool all);
  bool contains(const Node& server, uint64_t start_ns) const {
    return server.linkage.start_ns <= start_ns && start_ns <= server.linkage.end_ns;
  }
  bool process_was_serving(uint32_t tgid, uint64_t at_ns) const;
  static void erase_entry(std::map<ThreadKey, ByStart>& index, const ThreadKey& thread, uint64_t start, uint64_t id);
  const Node* find(uint64_t id) const;
  Node* find(uint64_t id) { return const_cast<Node*>(std::as_const(*this).find(id)); }

  Metrics& metrics_;
  Options options_;
  uint64_t now_ = 0;
  uint64_t next_id_ = 1;
  size_t held_ = 0;
  // Nodes by id. Ids are handed out in order and forgotten nearly in order
  // (one window after release), so a deque indexed from the oldest id still
  // known replaces a hash table: no hashing, no node allocation, and the
  // nodes of one moment sit together.
  std::deque<std::optional<Node>> nodes_;
  uint64_t first_node_ = 1;  // id of nodes_.front()
  size_t live_nodes_ = 0;
  void forget_node(uint64_t id);
  // (expiry, id) of held spans, earliest first (a min-heap: spans arrive
  // nearly, not exactly, in expiry order); the earliest is always the next
  // released, so no other entry is ever removed.
  using Expiry = std::pair<uint64_t, uint64_t>;
  std::vector<Expiry> held_expiry_;
  void push_held(uint64_t expiry, uint64_t id);
  uint64_t pop_held();  // the id of the earliest
  // (forget time, id) of released spans: set to now + window, so in order.
  std::deque<Expiry> released_expiry_;
  // Flat (open addressing): a lookup is one probe into contiguous memory, not a
  // chain of separately allocated nodes; these are touched several times per span.
  // An entry may outlive its node by up to a window: erasing it when the node
  // is forgotten cost a cache miss per span (the slot was last touched a
  // window earlier), so a sweep once per window drops them all at once, and
  // every lookup treats an entry whose node is gone as absent.
  absl::flat_hash_map<ExchangeKey, uint64_t> clients_by_key_, servers_by_key_;
  // Per thread, by start time: server spans, and held client spans without a parent yet.
  std::map<ThreadKey, ByStart> servers_by_thread_;
  std::map<ThreadKey, ByStart> orphan_calls_;
  // Kernel-decided spans by span id (swept like the key indexes), and those
  // waiting for the local parent the kernel named (a call usually finishes
  // before the request it serves).
  absl::flat_hash_map<SpanId, uint64_t> decided_by_id_;
  uint64_t next_sweep_ = 0;
  void sweep_forgotten();  // drops index entries whose node is forgotten
  template <class Index>
  void drop_forgotten(Index& index);
  std::unordered_multimap<SpanId, uint64_t, absl::Hash<SpanId>> awaiting_parent_;
  // Server spans of one thread examined for a call, latest start first: requests
  // are short, so the one in flight is among the latest (bounds the work on busy threads).
  static constexpr int kMaxCandidates = 64;
};

}  // namespace spanwire
