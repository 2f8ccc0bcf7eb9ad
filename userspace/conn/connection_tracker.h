// Follows every traced connection from its open event to its close: two
// reassembled byte streams per connection feeding its protocol's session
// (protocols/registry.h), and the exchange records it completes handed to the
// observer. Memory is bounded: streams
// hold limited out-of-order bytes, parsers bound their header buffers, the
// table holds a limited number of connections and idle ones are reclaimed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <linux/types.h>

#include "common/exchange_record.h"
#include "common/protocol_session.h"
#include "conn/connection_info.h"
#include "conn/stream_buffer.h"
#include "protocol_settings.h"
#include "spanwire.h"

namespace spanwire {

class Metrics;

class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  // The first event of a connection: the process is alive, a good moment to read /proc.
  virtual void on_connection_open(const ConnectionInfo&) {}
  // One request and its answer, whatever the protocol.
  virtual void on_exchange(const ConnectionInfo&, ExchangeRecord&&) = 0;
  virtual void on_process_exit(uint32_t /*tgid*/) {}
};

class ConnectionTracker {
 public:
  struct Limits {
    size_t max_connections = 65536;
    uint64_t idle_timeout_ns = 600'000'000'000ULL;  // 10 minutes without traffic
    StreamBuffer::Limits stream;
  };

  ConnectionTracker(Limits limits, Metrics& metrics, ConnectionObserver& observer,
                    ProtocolSettings settings = ProtocolSettings());
  ~ConnectionTracker();

  void on_open(const sw_open_event& ev, uint64_t now);
  // context: the request context the event carried behind its payload (SW_DATA_CONTEXT).
  void on_data(const sw_data_event& ev, std::string_view payload, uint64_t now,
               const sw_request_context* context = nullptr);
  void on_close(const sw_close_event& ev);
  void on_context(const sw_context_event& ev);
  void on_go_stream(const sw_go_stream_event& ev);
  // The kernel's ring-buffer drop count, read at now_ns (CLOCK_MONOTONIC).
  // Whether events were lost after a connection's last one is judged against
  // the count read before that event was made, not when it was read: a
  // backlog is read after drops that happened later.
  void note_kernel_drops(uint64_t now_ns, uint64_t total) { drops_.note(now_ns, total); }
  void on_process_exit(uint32_t tgid);
  // Periodic work: give up on stale holes, reclaim idle connections.
  void tick(uint64_t now);
  // Completes everything in flight (shutdown).
  void close_all(uint64_t now);

  size_t size() const { return conns_.size(); }

  // Called for data of a connection this table does not know (its open event
  // was lost or it was reclaimed): the kernel can then forget and re-announce it.
  std::function<void(uint32_t tgid, int32_t fd)> on_unknown_connection;
  // Reads the kernel's ring-buffer drop count now (nullopt if unreadable).
  // Asked when a connection ends without the kernel's totals: the drops that
  // took its last events may be newer than the last periodic reading.
  std::function<std::optional<uint64_t>()> read_kernel_drops;

 private:
  class Connection;
  // `totals`: bytes each direction moved (egress, ingress), when the kernel said.
  // shed: the kernel stopped tracing a connection that stays open; a request
  // it did not see answered is left out, counted, not exported unanswered.
  void close_connection(const ConnKey& key, uint64_t ts, const uint64_t* totals = nullptr, bool shed = false);
  // Whether events may have been lost since this connection's last one.
  bool lost_since(uint64_t last_event_ns);
  void evict_least_recent();
  void switch_to_tls(Connection& c);
  // The kernel's ids for the request at ctx.pos of one of c's streams.
  void note_context(Connection& c, const sw_request_context& ctx);
  void publish(Connection& c, bool shed = false);

  class DropHistory {
   public:
    void note(uint64_t now_ns, uint64_t total);
    // Drops counted after at_ns, given the count now (all of them if no sample is that old).
    uint64_t since(uint64_t at_ns, uint64_t total_now) const;

   private:
    static constexpr size_t kMaxSamples = 4096;  // a sample a second, only when the count changed
    std::deque<std::pair<uint64_t, uint64_t>> samples_;  // (read time, count), oldest first
  };

  Limits limits_;
  Metrics& metrics_;
  DropHistory drops_;
  ConnectionObserver& observer_;
  const ProtocolSettings settings_;
  std::unordered_map<ConnKey, std::unique_ptr<Connection>, ConnKeyHash> conns_;
  std::unordered_map<uint32_t, std::unordered_set<ConnKey, ConnKeyHash>> by_process_;
  std::unordered_set<ConnKey, ConnKeyHash> with_pending_;
  uint64_t last_idle_scan_ = 0;
};

}  // namespace spanwire
