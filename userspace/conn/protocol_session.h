// The parser side of one connection: its protocol's parser fed with the two
// reassembled byte streams. One implementation per protocol, chosen from what
// the kernel recognised when the connection opened.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/peer_positions.h"
#include "conn/connection_info.h"

namespace spanwire {

class ConnectionObserver;
class Metrics;
namespace http1 { struct Limits; }

class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  // Bytes of the client->server stream (requests) or the other one.
  virtual void feed(bool from_client, std::string_view bytes, uint64_t ts) = 0;
  virtual void gap(bool from_client, uint64_t length, uint64_t ts) = 0;
  // Where the next chunk of a stream sits against the other stream, told before
  // it is fed (it may wait behind a hole): evidence for pairing after a loss.
  virtual void place_chunk(bool /*from_client*/, const ChunkPlace& /*place*/) {}
  // The connection predates the sensor: no message boundary at the start.
  virtual void start_midstream() = 0;
  virtual void close(uint64_t ts) = 0;
  // Hands what completed to the observer, and adds the growth of the
  // parser's counters to the metrics.
  virtual void publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) = 0;
};

// The session for a connection's protocol (enum sw_protocol), or nullptr when
// spanwire does not parse that protocol.
std::unique_ptr<ProtocolSession> make_protocol_session(uint8_t protocol, const http1::Limits& http1_limits);

}  // namespace spanwire
