#include "span/trace_linker.h"

#include <algorithm>
#include <functional>
#include <iterator>

#include <linux/types.h>

#include "metrics/metrics.h"
#include "spanwire.h"

namespace spanwire {

namespace {
// Parent chains are short (one per tier); a longer walk means a bug, not a trace.
constexpr int kMaxDepth = 256;

// A thread link between Go spans is goroutine evidence: their tid is a goroutine token.
bool by_goroutine(uint32_t tid) { return (tid & SW_GOROUTINE_TOKEN) != 0; }

const char* link_name(bool tuple, uint32_t tid) {
  if (tuple) return "tuple";
  return by_goroutine(tid) ? "goroutine" : "thread";
}

// spanwire.link of a span whose ids the kernel decided, by where they came from.
const char* decided_link_name(uint8_t source, uint32_t tid) {
  switch (source) {
    case SW_CTX_OPTION: return "tcp-option";
    case SW_CTX_LOCAL: return "tuple";
    case SW_CTX_THREAD: return by_goroutine(tid) ? "goroutine" : "thread";
    case SW_CTX_HEADER: return "traceparent";
    default: return nullptr;  // fresh: a root
  }
}

bool is_zero(const SpanId& id) {
  for (uint8_t b : id)
    if (b != 0) return false;
  return true;
}

// Removes the one entry (key, id) of a multimap from key to node id.
void erase_one(std::multimap<uint64_t, uint64_t>& index, uint64_t key, uint64_t id) {
  auto [first, last] = index.equal_range(key);
  for (auto e = first; e != last; ++e) {
    if (e->second == id) {
      index.erase(e);
      return;
    }
  }
}
}  // namespace

TraceLinker::TraceLinker(SpanConsumer& next, Metrics& metrics, Options options)
    : SpanProcessor(next), metrics_(metrics), options_(options) {}

const TraceLinker::Node* TraceLinker::find(uint64_t id) const {
  if (id < first_node_ || id - first_node_ >= nodes_.size()) return nullptr;
  const std::optional<Node>& slot = nodes_[id - first_node_];
  return slot ? &*slot : nullptr;
}

void TraceLinker::forget_node(uint64_t id) {
  nodes_[id - first_node_].reset();
  --live_nodes_;
  while (!nodes_.empty() && !nodes_.front()) {
    nodes_.pop_front();
    ++first_node_;
  }
}

void TraceLinker::push_held(uint64_t expiry, uint64_t id) {
  held_expiry_.emplace_back(expiry, id);
  std::push_heap(held_expiry_.begin(), held_expiry_.end(), std::greater<>());
}

uint64_t TraceLinker::pop_held() {
  std::pop_heap(held_expiry_.begin(), held_expiry_.end(), std::greater<>());
  const uint64_t id = held_expiry_.back().second;
  held_expiry_.pop_back();
  return id;
}

void TraceLinker::consume(Span span) {
  const uint64_t id = next_id_++;
  Node n;
  n.kind = span.kind;
  n.linkage = span.linkage;
  n.span_id = span.span_id;
  n.own_trace = span.trace_id;
  n.flags = span.flags;
  n.decided = span.linkage.decided_source != 0;
  if (n.decided) n.trace = span.trace_id;
  n.expiry = std::max(now_, span.linkage.end_ns) + options_.window_ns;
  n.span = std::move(span);
  // A decided span goes at once when the kernel knows its sampled flag to be
  // its tree's; ids from an option that did not say the caller's flag (or
  // from a thread serving such a request) wait for their tree, where a local
  // header may still say "not sampled".
  const bool at_once = n.decided && options_.release_decided_at_once && n.span.linkage.decided_flags_certain;
  if (!at_once) push_held(n.expiry, id);
  if (nodes_.empty()) first_node_ = id;
  nodes_.emplace_back(std::move(n));  // id == first_node_ + nodes_.size() - 1: ids come in order
  ++live_nodes_;
  ++held_;
  add(id);
  if (at_once) return release(id);  // indexed first: later partners and children still find it
  if (held_ > options_.max_held) {
    // Too many waiting: the oldest leaves now, with what is known of it.
    metrics_.spans_released_early++;
    release(pop_held());
  }
}

void TraceLinker::tick(uint64_t now) {
  now_ = std::max(now_, now);
  expire_until(now_, false);
  if (now_ >= next_sweep_) {
    sweep_forgotten();
    next_sweep_ = now_ + options_.window_ns;
  }
}

template <class Index>
void TraceLinker::drop_forgotten(Index& index) {
  for (auto it = index.begin(); it != index.end();) {
    if (find(it->second) == nullptr) index.erase(it++);  // flat_hash_map::erase(iterator) returns nothing
    else ++it;
  }
}

void TraceLinker::sweep_forgotten() {
  drop_forgotten(clients_by_key_);
  drop_forgotten(servers_by_key_);
  drop_forgotten(decided_by_id_);
}

void TraceLinker::flush(std::chrono::milliseconds timeout) {
  expire_until(0, true);
  next_.flush(timeout);
}

void TraceLinker::expire_until(uint64_t now, bool all_held) {
  while (!held_expiry_.empty() && (all_held || held_expiry_.front().first <= now)) release(pop_held());
  if (all_held) return;
  while (!released_expiry_.empty() && released_expiry_.front().first <= now) {
    const uint64_t id = released_expiry_.front().second;
    released_expiry_.pop_front();
    forget(id);
  }
}

void TraceLinker::add(uint64_t id) {
  const SpanKind kind = find(id)->kind;
  if (find(id)->decided) on_decided(id);
  if (kind == SpanKind::kServer) on_server(id);
  else if (kind == SpanKind::kClient) on_client(id);
}

void TraceLinker::on_decided(uint64_t id) {
  const Node& n = *find(id);
  const SpanId own = n.span_id;
  const SpanId parent = n.span.parent_span_id;
  decided_by_id_[own] = id;
  // Children that came first and named this span (released already, when
  // decided spans go at once: their ids needed no link, so it is only counted).
  auto [first, last] = awaiting_parent_.equal_range(own);
  for (auto it = first; it != last; ++it) {
    const Node* child = find(it->second);
    if (child != nullptr && child->released) metrics_.spans_linked_wire++;
    else link(it->second, id, Link::kWire);
  }
  awaiting_parent_.erase(first, last);
  if (is_zero(parent)) return;
  if (auto it = decided_by_id_.find(parent); it != decided_by_id_.end() && find(it->second) != nullptr)
    link(id, it->second, Link::kWire);
  else awaiting_parent_.emplace(parent, id);  // a local parent still to come, or a remote one
}

void TraceLinker::on_server(uint64_t id) {
  const SpanLinkage linkage = find(id)->linkage;
  if (linkage.key) {
    // Rule 1: the client side of this exchange, if it came first.
    if (auto it = clients_by_key_.find(*linkage.key); it != clients_by_key_.end()) link(id, it->second, Link::kTuple);
    servers_by_key_[*linkage.key] = id;
  }
  if (linkage.tid == 0) return;
  const ThreadKey thread{linkage.tgid, linkage.tid};
  ByStart& servers = servers_by_thread_[thread];
  servers.emplace(linkage.start_ns, id);
  // Rule 2, calls that finished first: the ones this thread started while serving this request.
  auto waiting = orphan_calls_.find(thread);
  if (waiting == orphan_calls_.end()) return;
  ByStart& calls = waiting->second;
  auto first = calls.lower_bound(linkage.start_ns);
  auto last = calls.upper_bound(linkage.end_ns);
  for (auto it = first; it != last;) {
    Node* call = find(it->second);
    if (call == nullptr || call->released || call->parent != 0) {
      ++it;
      continue;
    }
    int candidates = 0, examined = 0;
    for (auto s = std::make_reverse_iterator(servers.upper_bound(call->linkage.start_ns));
         s != servers.rend() && candidates <= 1 && examined < kMaxCandidates; ++s, ++examined) {
      const Node* other = find(s->second);
      if (other && contains(*other, call->linkage.start_ns)) ++candidates;
    }
    call->ambiguous = candidates > 1;
    if (link(it->second, id, Link::kThread)) it = calls.erase(it);
    else ++it;
  }
  if (calls.empty()) orphan_calls_.erase(waiting);
}

void TraceLinker::on_client(uint64_t id) {
  const SpanLinkage linkage = find(id)->linkage;
  if (linkage.key) {
    // Rule 1, server side first (it often finishes before the client reads the answer).
    if (auto it = servers_by_key_.find(*linkage.key); it != servers_by_key_.end()) {
      Node* server = find(it->second);
      // A server whose ids the kernel decided takes only the parent the
      // kernel named (link()): finding it released misses no link.
      if (server && server->parent == 0 && !server->decided) {
        if (server->released) metrics_.links_too_late++;
        else link(it->second, id, Link::kTuple);
      }
    }
    clients_by_key_[*linkage.key] = id;
  }
  if (linkage.tid == 0 || find(id)->decided) return;
  const ThreadKey thread{linkage.tgid, linkage.tid};
  // Rule 2: the request this thread was serving when it made the call. Should
  // several be in flight on the thread (an event loop), the latest started wins
  // and the link is flagged ambiguous.
  uint64_t best = 0;
  int candidates = 0;
  if (auto it = servers_by_thread_.find(thread); it != servers_by_thread_.end()) {
    // Latest start first: the first that contains the call is the latest-started in flight.
    const ByStart& servers = it->second;
    int examined = 0;
    for (auto s = std::make_reverse_iterator(servers.upper_bound(linkage.start_ns));
         s != servers.rend() && examined < kMaxCandidates; ++s, ++examined) {
      const Node* server = find(s->second);
      if (server == nullptr || !contains(*server, linkage.start_ns)) continue;
      if (++candidates == 1) best = s->second;
    }
  }
  if (best != 0 && link(id, best, Link::kThread)) {
    find(id)->ambiguous = candidates > 1;
    return;
  }
  orphan_calls_[thread].emplace(linkage.start_ns, id);  // its server span may finish later
}

template <class Visit>
uint64_t TraceLinker::walk_up(uint64_t id, Visit visit) {
  uint64_t last = id;
  for (int depth = 0; depth < kMaxDepth && id != 0; ++depth) {
    const Node* n = find(id);
    if (n == nullptr) break;  // the parent was released and forgotten
    last = id;
    if (visit(id, *n)) break;
    id = n->parent;
  }
  return last;
}

std::pair<uint64_t, std::optional<TraceId>> TraceLinker::tree_of(uint64_t id) {
  std::optional<TraceId> trace;
  const uint64_t top = walk_up(id, [&](uint64_t, const Node& n) {
    trace = n.trace;
    return trace.has_value();
  });
  return {top, trace};
}

bool TraceLinker::link(uint64_t child, uint64_t parent, Link how) {
  Node* c = find(child);
  Node* p = find(parent);
  if (c == nullptr || p == nullptr || child == parent || c->released || c->parent != 0) return false;
  if (c->decided != (how == Link::kWire)) return false;  // decided ids take only the parent the kernel named
  bool cycle = false;  // the child must not be an ancestor of the parent
  walk_up(parent, [&](uint64_t cur, const Node&) { return cycle = cur == child; });
  if (cycle) return false;
  // One trace id per tree: a released part fixed it.
  const auto [child_top, child_trace] = tree_of(child);
  const auto [parent_top, parent_trace] = tree_of(parent);
  if (child_trace && parent_trace && *child_trace != *parent_trace) {
    metrics_.link_conflicts++;
    return false;
  }
  if (child_trace && !parent_trace) find(parent_top)->trace = child_trace;
  c->parent = parent;
  c->link = how;
  ++p->held_children;
  return true;
}

TraceId TraceLinker::choose_trace(uint64_t id) {
  // The top-most trace context from a header on the way to the root, else the root's id.
  std::optional<TraceId> from_header;
  TraceId root_trace{};
  walk_up(id, [&](uint64_t, const Node& n) {
    if (n.linkage.context != ContextSource::kNone) from_header = n.own_trace;
    root_trace = n.own_trace;
    return false;
  });
  return from_header.value_or(root_trace);
}

std::optional<bool> TraceLinker::remote_sampled(uint64_t id) {
  // The sampled flag of the top-most header on the way to the root.
  std::optional<bool> sampled;
  walk_up(id, [&](uint64_t, const Node& n) {
    if (n.linkage.context != ContextSource::kNone) sampled = (n.flags & 1) != 0;
    return false;
  });
  return sampled;
}

void TraceLinker::release(uint64_t id) {
  Node& n = *find(id);
  const auto [top, decided] = tree_of(id);
  const TraceId trace = decided ? *decided : choose_trace(id);
  if (!decided) find(top)->trace = trace;
  n.trace = trace;
  Span span = std::move(n.span);
  span.trace_id = trace;
  span.linkage.remote_sampled = remote_sampled(id);
  // Fresh roots are sampled: an unsampled decided span took its flag from a
  // header (on this host, or on the caller's, said by the option), its
  // tree's top, whether or not that span is linked yet.
  if (n.decided && !span.linkage.remote_sampled && (n.flags & 1) == 0) span.linkage.remote_sampled = false;
  if (n.decided) {
    // Ids as the kernel decided them; a local parent only confirms the parent id.
    metrics_.spans_context_kernel++;
    if (const char* how = decided_link_name(span.linkage.decided_source, span.linkage.tid))
      span.attributes.push_back({"spanwire.link", std::string(how)});
    if (span.linkage.decided_ambiguous) {
      span.attributes.push_back({"spanwire.link.ambiguous", true});
      metrics_.spans_link_ambiguous++;
    }
    if (n.parent != 0) {
      metrics_.spans_linked_wire++;
      --find(n.parent)->held_children;
    }
  } else if (n.parent != 0) {
    Node& parent = *find(n.parent);
    span.parent_span_id = parent.span_id;
    const bool tuple = n.link == Link::kTuple;
    span.attributes.push_back({"spanwire.link", std::string(link_name(tuple, n.linkage.tid))});
    if (n.ambiguous) {
      span.attributes.push_back({"spanwire.link.ambiguous", true});
      metrics_.spans_link_ambiguous++;
    }
    if (tuple) metrics_.spans_linked_tuple++;
    else if (by_goroutine(n.linkage.tid)) metrics_.spans_linked_goroutine++;
    else metrics_.spans_linked_thread++;
    --parent.held_children;
  } else if (n.linkage.context != ContextSource::kNone) {
    // The header's parent, set by the builder, stays.
    span.attributes.push_back(
        {"spanwire.link", std::string(n.linkage.context == ContextSource::kB3 ? "b3" : "traceparent")});
  } else if (n.kind == SpanKind::kClient && process_was_serving(n.linkage.tgid, n.linkage.start_ns)) {
    // A call made while the process served requests, on a thread that served none of them.
    metrics_.calls_unlinked++;
  }
  n.released = true;  // its held_expiry_ entry was the earliest, popped by the caller (or it had none)
  --held_;
  n.expiry = now_ + options_.window_ns;  // remembered for late children
  released_expiry_.emplace_back(n.expiry, id);
  next_.consume(std::move(span));
}

void TraceLinker::forget(uint64_t id) {
  Node& n = *find(id);
  if (n.held_children > 0) {  // a held span still needs its id and trace
    n.expiry = now_ + options_.window_ns;
    released_expiry_.emplace_back(n.expiry, id);
    return;
  }
  // Its entries in the key and id indexes stay until the next sweep: their
  // lookups already ignore a forgotten node.
  if (n.linkage.tid != 0) {
    const ThreadKey thread{n.linkage.tgid, n.linkage.tid};
    erase_entry(n.kind == SpanKind::kServer ? servers_by_thread_ : orphan_calls_, thread, n.linkage.start_ns, id);
  }
  if (n.decided) {
    auto [first, last] = awaiting_parent_.equal_range(n.span.parent_span_id);
    for (auto it = first; it != last; ++it) {
      if (it->second == id) {
        awaiting_parent_.erase(it);
        break;
      }
    }
  }
  forget_node(id);
}

bool TraceLinker::process_was_serving(uint32_t tgid, uint64_t at_ns) const {
  for (auto it = servers_by_thread_.lower_bound({tgid, 0}); it != servers_by_thread_.end() && it->first.first == tgid;
       ++it) {
    int examined = 0;
    for (auto s = std::make_reverse_iterator(it->second.upper_bound(at_ns));
         s != it->second.rend() && examined < kMaxCandidates; ++s, ++examined) {
      const Node* n = find(s->second);
      if (n != nullptr && contains(*n, at_ns)) return true;
    }
  }
  return false;
}

void TraceLinker::erase_entry(std::map<ThreadKey, ByStart>& index, const ThreadKey& thread, uint64_t start,
                              uint64_t id) {
  auto it = index.find(thread);
  if (it == index.end()) return;
  erase_one(it->second, start, id);
  if (it->second.empty()) index.erase(it);
}

}  // namespace spanwire
