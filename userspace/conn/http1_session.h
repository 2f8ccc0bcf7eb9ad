// HTTP/1 behind the ProtocolSession interface: the request/response matcher
// of protocols/http1 and the publication of its counters. A connection that
// switches to HTTP/2 with `Upgrade: h2c` continues in an Http2Session, whose
// stream 1 carries the upgrade request; bytes after any other protocol switch
// (WebSocket, CONNECT tunnels) are counted, not parsed.
#pragma once

#include <memory>
#include <vector>

#include "conn/http2_session.h"
#include "conn/protocol_session.h"
#include "http1/exchange_matcher.h"

namespace spanwire {

class Http1Session final : public ProtocolSession {
 public:
  explicit Http1Session(const http1::Limits& limits);

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override;
  void gap(bool from_client, uint64_t length, uint64_t ts) override;
  void place_chunk(bool from_client, const ChunkPlace& place) override {
    if (now_ != After::kHttp1) return;
    from_client ? matcher_.place_request_chunk(place) : matcher_.place_response_chunk(place);
  }
  void start_midstream() override { matcher_.start_midstream(); }
  void close(uint64_t ts) override;
  void publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) override;

 private:
  enum class After { kHttp1, kHttp2, kOpaque };  // what the connection carries now

  void collect_exchanges();
  void on_protocol_switch();
  void forward_upgraded_bytes();

  http1::ExchangeMatcher matcher_;
  After now_ = After::kHttp1;
  std::unique_ptr<Http2Session> http2_;  // set once the connection switched to h2c
  std::vector<http1::Exchange> exchanges_;  // completed, not yet published
  uint64_t opaque_bytes_ = 0;              // after a switch to a protocol not parsed
  // Counters already added to the metrics, so that only their growth is added.
  http1::ParserStats published_req_{}, published_resp_{};
  http1::MatcherStats published_matcher_{};
  uint64_t published_opaque_ = 0;
  bool published_upgrade_ = false;
};

}  // namespace spanwire
