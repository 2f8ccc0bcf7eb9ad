#include "conn/connection_tracker.h"

#include <algorithm>
#include <cstring>

#include "metrics/metrics.h"
#include "registry.h"

namespace spanwire {

// One traced connection: its two streams and the protocol session they feed.
// It hears the session's body announcements (BodyAhead): in-order chunks
// wholly inside an announced body are skipped, not delivered.
class ConnectionTracker::Connection final : public BodyAhead {
 public:
  Connection(ConnectionInfo info, const Limits& limits, const ProtocolSettings& settings, Metrics& metrics)
      : info(std::move(info)),
        session(make_protocol_session(this->info.protocol, SessionContext{settings, metrics.protocols, this})),
        streams{StreamBuffer(limits.stream, metrics), StreamBuffer(limits.stream, metrics)},
        from_client(*this, true),
        from_server(*this, false) {}

  // Whether a direction (enum sw_direction) is the client->server stream: the
  // client writes it.
  bool carries_requests(uint8_t direction) const {
    return (info.role == Role::kClient) == (direction == SW_DIR_EGRESS);
  }
  StreamConsumer& consumer_for(uint8_t direction) {
    return carries_requests(direction) ? static_cast<StreamConsumer&>(from_client) : from_server;
  }

  void body_ahead(bool client, uint64_t offset, uint64_t length) override {
    body[client ? 0 : 1] = {offset, offset + length};
  }
  // Whether [pos, pos + length) of a direction lies in an announced body.
  bool in_body(uint8_t direction, uint64_t pos, uint64_t length) const {
    const StreamBuffer& s = streams[direction];
    if (!s.started() || pos < s.start()) return false;
    const Range& r = body[carries_requests(direction) ? 0 : 1];
    const uint64_t at = pos - s.start();
    return length > 0 && at >= r.from && at + length <= r.to;
  }

  ConnectionInfo info;
  std::unique_ptr<ProtocolSession> session;  // nullptr: a protocol spanwire does not parse
  StreamBuffer streams[2];
  uint64_t last_activity = 0;
  bool plaintext_positions = false;  // positions count TLS plaintext (SW_DATA_TLS)
  struct Range {
    uint64_t from = 0, to = 0;  // session offsets
  };
  Range body[2];  // [0]: the client -> server stream
  uint64_t last_event_ns = 0;  // kernel time of its last data event

 private:
  struct Side : StreamConsumer {
    Side(Connection& c, bool from_client) : c(c), from_client(from_client) {}
    void on_bytes(std::string_view b, uint64_t ts) override { c.session->feed(from_client, b, ts); }
    void on_gap(uint64_t n, uint64_t ts) override { c.session->gap(from_client, n, ts); }
    Connection& c;
    bool from_client;
  };
  Side from_client;
  Side from_server;
};

ConnectionTracker::ConnectionTracker(Limits limits, Metrics& metrics, ConnectionObserver& observer,
                                     ProtocolSettings settings)
    : limits_(limits), metrics_(metrics), observer_(observer), settings_(std::move(settings)) {}

ConnectionTracker::~ConnectionTracker() = default;

namespace {
ConnKey key_of(const sw_event_header& h) { return {h.conn.tgid, h.conn.fd, h.conn.start_ns}; }
}  // namespace

void ConnectionTracker::on_open(const sw_open_event& ev, uint64_t now) {
  ConnectionInfo info;
  info.key = key_of(ev.hdr);
  std::memcpy(info.local.addr.data(), ev.local_addr, 16);
  std::memcpy(info.remote.addr.data(), ev.remote_addr, 16);
  info.local.port = ev.local_port;
  info.remote.port = ev.remote_port;
  info.role = static_cast<Role>(ev.role);
  info.protocol = ev.protocol;
  info.midstream = (ev.flags & SW_OPEN_MIDSTREAM) != 0;
  info.tls = (ev.flags & SW_OPEN_TLS) != 0;
  info.comm.assign(ev.comm, strnlen(ev.comm, sizeof(ev.comm)));

  if (conns_.count(info.key) != 0) return;  // announced twice (a retried open)
  if (conns_.size() >= limits_.max_connections) evict_least_recent();

  auto conn = std::make_unique<Connection>(info, limits_, settings_, metrics_);
  conn->last_activity = now;
  if (!info.midstream) {
    conn->streams[0].start_at(0);
    conn->streams[1].start_at(0);
  } else if (conn->session && (ev.flags & SW_OPEN_RESUMED)) {
    conn->session->start_at_request();
  } else if (conn->session) {
    conn->session->start_midstream();
  }
  by_process_[info.key.tgid].insert(info.key);
  conns_.emplace(info.key, std::move(conn));
  metrics_.connections_opened++;
  observer_.on_connection_open(info);
}

void ConnectionTracker::on_data(const sw_data_event& ev, std::string_view payload, uint64_t now,
                                const sw_request_context* context) {
  ConnKey key = key_of(ev.hdr);
  auto it = conns_.find(key);
  if (it == conns_.end()) {
    metrics_.events_orphaned++;
    if (on_unknown_connection) on_unknown_connection(key.tgid, key.fd);
    return;
  }
  Connection& c = *it->second;
  // Before the bytes: the request they begin may complete an exchange in them.
  if (context != nullptr) note_context(c, *context);
  c.last_activity = now;
  c.last_event_ns = ev.hdr.ts_ns;
  if (!c.session || c.info.role == Role::kUnknown) {
    metrics_.events_unsupported_protocol++;
    return;
  }
  uint8_t dir = ev.direction & 1;
  // Egress bytes start when the write starts; ingress bytes exist once the read returns.
  uint64_t ts = dir == SW_DIR_EGRESS ? ev.ts_start_ns : ev.hdr.ts_ns;
  uint64_t length = ev.len;
  if (ev.flags & SW_DATA_NO_COPY) payload = {};
  if ((ev.flags & SW_DATA_TLS) && !c.plaintext_positions) switch_to_tls(c);
  // Facts for linking spans: the TCP sequence numbers and threads of each stream.
  const bool from_client = c.carries_requests(dir);
  StreamFacts& facts = c.info.streams[from_client ? 0 : 1];
  if (ev.flags & SW_DATA_SEQ) {
    facts.has_seq = true;
    facts.seq_minus_pos = ev.seq_minus_pos;
  }
  facts.threads.note(ev.pos, ev.hdr.tid);
  const uint64_t start = c.streams[dir].started() ? c.streams[dir].start() : ev.pos;
  c.session->place_chunk(from_client, {ev.pos, ev.peer_pos, start});
  // Copied bytes of a body the session only counts: skipped in order.
  if (payload.size() == length && c.in_body(dir, ev.pos, length) && c.streams[dir].skip(ev.pos, length)) {
    c.session->skip(from_client, length, ts);
    metrics_.stream_body_bytes_skipped += length;
    publish(c);
    return;
  }
  const bool on_purpose = (ev.flags & (SW_DATA_NO_COPY | SW_DATA_BODY_COUNTED)) != 0;
  c.streams[dir].add(ev.pos, payload, length, ts, now, c.consumer_for(dir), on_purpose);
  facts.origin = c.streams[dir].start();
  if (c.streams[dir].pending_bytes() > 0) with_pending_.insert(key);
  publish(c);
}

void ConnectionTracker::on_context(const sw_context_event& ev) {
  auto it = conns_.find(key_of(ev.hdr));
  if (it == conns_.end()) {
    metrics_.events_orphaned++;
    return;
  }
  note_context(*it->second, ev.ctx);
}

void ConnectionTracker::note_context(Connection& c, const sw_request_context& ctx) {
  DecidedContext context;
  std::memcpy(context.trace_id.data(), ctx.trace_id, sizeof(ctx.trace_id));
  std::memcpy(context.span_id.data(), ctx.span_id, sizeof(ctx.span_id));
  std::memcpy(context.parent_id.data(), ctx.parent_id, sizeof(ctx.parent_id));
  context.source = ctx.source;
  context.flags = ctx.flags;
  context.trace_flags = ctx.trace_flags;
  c.info.streams[c.carries_requests(ctx.direction & 1) ? 0 : 1].contexts.note(ctx.pos, context);
}

void ConnectionTracker::on_go_stream(const sw_go_stream_event& ev) {
  auto it = conns_.find(key_of(ev.hdr));
  if (it == conns_.end()) {
    metrics_.events_orphaned++;
    return;
  }
  it->second->info.streams[0].handlers.note(ev.stream, ev.hdr.tid);
}

namespace {
// Hands a connection's records to the observer, counting them.
class ToObserver final : public RecordSink {
 public:
  ToObserver(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics, bool shed)
      : conn_(conn), observer_(observer), metrics_(metrics), shed_(shed) {}
  void record(ExchangeRecord&& record) override {
    if (shed_ && !record.answered) {
      metrics_.exchanges_shed++;  // its answer went untraced: not "unanswered"
      return;
    }
    metrics_.exchanges++;
    if (!record.answered) metrics_.exchanges_unanswered++;
    observer_.on_exchange(conn_, std::move(record));
  }

 private:
  const ConnectionInfo& conn_;
  ConnectionObserver& observer_;
  Metrics& metrics_;
  bool shed_;
};
}  // namespace

// The first TLS plaintext of a connection. When the socket already carried
// plaintext (PostgreSQL's SSLRequest, MySQL's SSL request, then the
// handshake), the streams restart at the plaintext's position 0 and the
// session is told; a connection that was TLS from its first byte only
// changes how positions count.
void ConnectionTracker::switch_to_tls(Connection& c) {
  c.plaintext_positions = true;
  if (c.streams[0].next_pos() == 0 && c.streams[1].next_pos() == 0 && c.streams[0].pending_bytes() == 0 &&
      c.streams[1].pending_bytes() == 0)
    return;
  for (StreamBuffer& s : c.streams) s.restart_at(0);
  if (c.session) c.session->start_tls();
}

void ConnectionTracker::publish(Connection& c, bool shed) {
  if (!c.session) return;
  ToObserver sink(c.info, observer_, metrics_, shed);
  c.session->publish(c.info, sink);
}

void ConnectionTracker::DropHistory::note(uint64_t now_ns, uint64_t total) {
  if (!samples_.empty() && samples_.back().second == total) return;
  if (samples_.size() == kMaxSamples) samples_.pop_front();  // older baselines read as 0: conservative
  samples_.emplace_back(now_ns, total);
}

uint64_t ConnectionTracker::DropHistory::since(uint64_t at_ns, uint64_t total_now) const {
  // The count sampled at or before at_ns: any drop after at_ns is in total_now - it.
  uint64_t before = 0;
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (it->first <= at_ns) {
      before = it->second;
      break;
    }
  }
  return total_now > before ? total_now - before : 0;
}

bool ConnectionTracker::lost_since(uint64_t last_event_ns) {
  uint64_t now = metrics_.kernel_ringbuf_drops;
  if (read_kernel_drops) {
    if (auto fresh = read_kernel_drops(); fresh && *fresh > now) {
      now = *fresh;
      metrics_.kernel_ringbuf_drops = now;
    }
  }
  return drops_.since(last_event_ns, now) > 0;
}

void ConnectionTracker::close_connection(const ConnKey& key, uint64_t ts, const uint64_t* totals, bool shed) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  if (c.session && c.info.role != Role::kUnknown) {
    // The kernel's totals count socket bytes; TLS streams count plaintext.
    const bool comparable = totals != nullptr && !c.info.tls && !c.plaintext_positions;
    // Without the kernel's totals (close event lost, idle reclaim, eviction,
    // process exit), events lost after this connection's last one may have
    // carried its last answers: then no request may be called unanswered.
    const bool tail_maybe_lost = !comparable && lost_since(c.last_event_ns);
    for (uint8_t dir = 0; dir < 2; ++dir) {
      if (comparable) c.streams[dir].end_at(totals[dir], ts, c.consumer_for(dir));
      else if (tail_maybe_lost) c.streams[dir].end_maybe_lost(ts, c.consumer_for(dir));
      else c.streams[dir].flush_stale(ts, c.consumer_for(dir), /*force=*/true);
    }
    c.session->close(ts);
    publish(c, shed);
  }
  auto proc = by_process_.find(key.tgid);
  if (proc != by_process_.end()) {
    proc->second.erase(key);
    if (proc->second.empty()) by_process_.erase(proc);
  }
  with_pending_.erase(key);
  conns_.erase(it);
  metrics_.connections_closed++;
}

void ConnectionTracker::on_close(const sw_close_event& ev) {
  const uint64_t totals[2] = {ev.bytes_egress, ev.bytes_ingress};  // indexed by sw_direction
  close_connection(key_of(ev.hdr), ev.hdr.ts_ns, totals, (ev.flags & SW_CLOSE_SHED) != 0);
}

void ConnectionTracker::on_process_exit(uint32_t tgid) {
  auto proc = by_process_.find(tgid);
  if (proc != by_process_.end()) {
    std::vector<ConnKey> keys(proc->second.begin(), proc->second.end());
    for (const auto& key : keys) close_connection(key, conns_.at(key)->last_activity);
  }
  observer_.on_process_exit(tgid);
}

void ConnectionTracker::tick(uint64_t now) {
  for (auto it = with_pending_.begin(); it != with_pending_.end();) {
    auto c = conns_.find(*it);
    if (c == conns_.end()) {
      it = with_pending_.erase(it);
      continue;
    }
    Connection& conn = *c->second;  // only connections with a session ever have pending bytes
    for (uint8_t dir = 0; dir < 2; ++dir) conn.streams[dir].flush_stale(now, conn.consumer_for(dir));
    publish(conn);
    bool pending = conn.streams[0].pending_bytes() + conn.streams[1].pending_bytes() > 0;
    it = pending ? std::next(it) : with_pending_.erase(it);
  }
  // Idle reclaim walks the whole table: do it rarely.
  if (now - last_idle_scan_ < 10'000'000'000ULL) return;
  last_idle_scan_ = now;
  std::vector<ConnKey> idle;
  for (const auto& [key, conn] : conns_)
    if (now - conn->last_activity > limits_.idle_timeout_ns) idle.push_back(key);
  for (const auto& key : idle) {
    close_connection(key, now);
    metrics_.connections_reclaimed++;
  }
}

void ConnectionTracker::close_all(uint64_t now) {
  std::vector<ConnKey> keys;
  keys.reserve(conns_.size());
  for (const auto& [key, conn] : conns_) keys.push_back(key);
  for (const auto& key : keys) close_connection(key, now);
}

void ConnectionTracker::evict_least_recent() {
  auto oldest = std::min_element(conns_.begin(), conns_.end(), [](const auto& a, const auto& b) {
    return a.second->last_activity < b.second->last_activity;
  });
  if (oldest == conns_.end()) return;
  ConnKey key = oldest->first;
  close_connection(key, oldest->second->last_activity);
  metrics_.connections_evicted++;
}

}  // namespace spanwire
