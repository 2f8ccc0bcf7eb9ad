// HTTP/1 behind the ProtocolSession interface: the request/response matcher
// of protocols/http1 and the publication of its counters.
#pragma once

#include "conn/protocol_session.h"
#include "http1/exchange_matcher.h"

namespace spanwire {

class Http1Session final : public ProtocolSession {
 public:
  explicit Http1Session(const http1::Limits& limits) : matcher_(limits) {}

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override {
    from_client ? matcher_.feed_request(bytes, ts) : matcher_.feed_response(bytes, ts);
  }
  void gap(bool from_client, uint64_t length, uint64_t ts) override {
    from_client ? matcher_.gap_request(length, ts) : matcher_.gap_response(length, ts);
  }
  void start_midstream() override { matcher_.start_midstream(); }
  void close(uint64_t ts) override { matcher_.close(ts); }
  void publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) override;

 private:
  http1::ExchangeMatcher matcher_;
  // Counters already added to the metrics, so that only their growth is added.
  http1::ParserStats published_req_{}, published_resp_{};
  http1::MatcherStats published_matcher_{};
};

}  // namespace spanwire
