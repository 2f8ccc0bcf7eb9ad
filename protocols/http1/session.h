// HTTP/1 behind the ProtocolSession interface: the request/response matcher
// and the HTTP semantic conventions. A connection that switches to HTTP/2
// with `Upgrade: h2c` continues in an HTTP/2 session, whose stream 1 carries
// the upgrade request; bytes after any other protocol switch (WebSocket,
// CONNECT tunnels) are counted, not parsed.
#pragma once

#include <memory>
#include <vector>

#include "common/protocol_session.h"
#include "http1/exchange_matcher.h"
#include "http2/session.h"

namespace spanwire::http1 {

class Session final : public ProtocolSession {
 public:
  explicit Session(const SessionContext& context);

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override;
  void gap(bool from_client, uint64_t length, uint64_t ts) override;
  void skip(bool from_client, uint64_t length, uint64_t ts) override;
  void place_chunk(bool from_client, const ChunkPlace& place) override {
    if (now_ != After::kHttp1) return;
    from_client ? matcher_.place_request_chunk(place) : matcher_.place_response_chunk(place);
  }
  void start_midstream() override { matcher_.start_midstream(); }
  void start_at_request() override {}  // a message boundary, and no state across messages
  void close(uint64_t ts) override;
  void publish(const ConnectionFacts& conn, RecordSink& sink) override;

 private:
  enum class After { kHttp1, kHttp2, kOpaque };  // what the connection carries now

  void collect_exchanges();
  void announce_body(bool from_client);
  void on_protocol_switch();
  void forward_upgraded_bytes();

  const SessionContext context_;
  ProtocolCounters& counters_;
  ExchangeMatcher matcher_;
  After now_ = After::kHttp1;
  std::unique_ptr<http2::Session> http2_;  // set once the connection switched to h2c
  std::vector<Exchange> exchanges_;        // completed, not yet published
  uint64_t announced_to_[2] = {0, 0};      // end of the last body announced, per direction
};

}  // namespace spanwire::http1
