// The contract of a protocol module (one folder in protocols/): it recognises
// its protocol in the kernel (infer.h), makes a session for each connection,
// and the session turns the connection's two byte streams into exchange
// records. Sessions are fed in stream order by the connection tracker.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/connection_facts.h"
#include "common/exchange_record.h"
#include "common/peer_positions.h"
#include "common/protocol_counters.h"
#include "protocol_settings.h"

namespace spanwire {

// The narrow way back from a session to the capture stages: "the next
// `length` bytes of this direction, from stream offset `offset`, are a body
// that will only be counted". The receiver may then deliver them through
// ProtocolSession::skip() instead of feed(), and not copy them at all.
class BodyAhead {
 public:
  virtual ~BodyAhead() = default;
  virtual void body_ahead(bool from_client, uint64_t offset, uint64_t length) = 0;
};

class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  // Bytes of the client->server stream (requests) or the other one.
  virtual void feed(bool from_client, std::string_view bytes, uint64_t ts) = 0;
  // Bytes that were never seen (lost, or not copied by the kernel).
  virtual void gap(bool from_client, uint64_t length, uint64_t ts) = 0;
  // Bytes announced through BodyAhead, known to be body, not delivered.
  // Sessions that never announce need not override it.
  virtual void skip(bool from_client, uint64_t length, uint64_t ts) { gap(from_client, length, ts); }
  // Where the next chunk of a stream sits against the other stream, told before
  // it is fed (it may wait behind a hole): evidence for pairing after a loss.
  virtual void place_chunk(bool /*from_client*/, const ChunkPlace& /*place*/) {}
  // The connection predates the sensor: no message boundary at the start.
  virtual void start_midstream() = 0;
  // The kernel traces the connection again after shedding it: the request
  // stream starts at a request's first byte, the answers at the next answer,
  // but state built by earlier messages (compression tables, prepared
  // statements) was not seen. Protocols without such state need not doubt it.
  virtual void start_at_request() { start_midstream(); }
  // The connection switched to TLS after a plaintext negotiation (PostgreSQL's
  // SSLRequest, MySQL's SSL request): what follows is the TLS plaintext, both
  // streams counted from 0 again. Sessions of protocols without such a
  // negotiation never see it.
  virtual void start_tls() {}
  virtual void close(uint64_t ts) = 0;
  // Hands every completed exchange to `sink` as a record.
  virtual void publish(const ConnectionFacts& conn, RecordSink& sink) = 0;
};

// What a session gets from the daemon when it is made.
struct SessionContext {
  const ProtocolSettings& settings;
  CounterBoard& counters;
  BodyAhead* body_ahead = nullptr;  // null: nobody listens
};

// One protocol: its name, its counters and its sessions. The registry
// (protocols/registry.h) pairs it with its id from protocols/protocol_list.h.
struct ProtocolModule {
  std::string_view name;   // the protocol label of its counters: "http1"
  std::span<const CounterSpec> counters;
  std::unique_ptr<ProtocolSession> (*make_session)(const SessionContext& context);
};

// The make_session of a module whose session is constructed from the context.
template <class SessionType>
std::unique_ptr<ProtocolSession> make_session_of(const SessionContext& context) {
  return std::make_unique<SessionType>(context);
}

}  // namespace spanwire
