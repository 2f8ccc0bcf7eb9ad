// HTTP/2 (and gRPC over it) behind the ProtocolSession interface: the
// connection parser of protocols/http2 and the publication of its counters.
#pragma once

#include <utility>

#include "conn/protocol_session.h"
#include "http2/connection_parser.h"

namespace spanwire {

class Http2Session final : public ProtocolSession {
 public:
  Http2Session() = default;

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override {
    from_client ? parser_.feed_client(bytes, ts) : parser_.feed_server(bytes, ts);
  }
  void gap(bool from_client, uint64_t length, uint64_t ts) override {
    from_client ? parser_.gap_client(length, ts) : parser_.gap_server(length, ts);
  }
  void start_midstream() override { parser_.start_midstream(); }
  // The connection switched from HTTP/1.1 (`Upgrade: h2c`); see ConnectionParser.
  void seed_upgrade_stream(http2::StreamSide request) { parser_.seed_upgrade_stream(std::move(request)); }
  void close(uint64_t ts) override { parser_.close(ts); }
  void publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) override;

 private:
  http2::ConnectionParser parser_;
  http2::ParserStats published_{};  // counters already added to the metrics
};

}  // namespace spanwire
