// HTTP/2 behind the ProtocolSession interface: the connection parser, the
// application layers carried in its streams (gRPC), and the HTTP semantic
// conventions for streams no layer claims.
#pragma once

#include <memory>
#include <span>
#include <utility>

#include "common/protocol_session.h"
#include "http2/connection_parser.h"

namespace spanwire::http2 {

// An application protocol carried in HTTP/2 streams (gRPC): it reads the DATA
// of the stream sides it recognises and describes the streams it claims.
class StreamLayer {
 public:
  virtual ~StreamLayer() = default;
  // A reader of this side's DATA (see DataTap), or nullptr.
  virtual std::unique_ptr<DataTap> tap(const StreamSide& side) const = 0;
  // Fills `record` and returns true when the stream is this layer's.
  virtual bool describe(ExchangeRecord& record, const ConnectionFacts& conn, const Stream& stream) const = 0;
};

class Session final : public ProtocolSession {
 public:
  Session(const SessionContext& context, std::span<const StreamLayer* const> layers);

  void feed(bool from_client, std::string_view bytes, uint64_t ts) override {
    from_client ? parser_.feed_client(bytes, ts) : parser_.feed_server(bytes, ts);
  }
  void gap(bool from_client, uint64_t length, uint64_t ts) override {
    from_client ? parser_.gap_client(length, ts) : parser_.gap_server(length, ts);
  }
  void start_midstream() override { parser_.start_midstream(); }
  // The connection switched from HTTP/1.1 (`Upgrade: h2c`); see ConnectionParser.
  void seed_upgrade_stream(StreamSide request) { parser_.seed_upgrade_stream(std::move(request)); }
  void close(uint64_t ts) override { parser_.close(ts); }
  void publish(const ConnectionFacts& conn, RecordSink& sink) override;

  // One stream as a record: the first layer that claims it, else HTTP.
  ExchangeRecord to_record(const ConnectionFacts& conn, const Stream& stream) const;

 private:
  const SessionContext context_;
  std::span<const StreamLayer* const> layers_;
  ConnectionParser parser_;
};

// A session with every registered layer (module.cpp); HTTP/1's h2c upgrade uses it too.
std::unique_ptr<Session> make_session(const SessionContext& context);

}  // namespace spanwire::http2
