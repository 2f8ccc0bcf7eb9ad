#include "http1/session.h"

#include "common/text.h"
#include "http1/counters.h"
#include "http1/semconv.h"
#include "protocol_ids.h"

namespace spanwire::http1 {

namespace {

// Header fields that belong to the HTTP/1.1 hop and the upgrade itself, not to the
// request that HTTP/2 stream 1 carries (RFC 9113 8.2.2).
bool hop_only(std::string_view name) {
  for (std::string_view h : {"host", "connection", "upgrade", "http2-settings", "keep-alive",
                             "proxy-connection", "transfer-encoding", "te"}) {
    if (iequals(name, h)) return true;
  }
  return false;
}

// The upgrade request as HTTP/2 stream 1's request side (RFC 7540 3.2).
http2::StreamSide as_stream_one(const Message& request) {
  http2::StreamSide side;
  side.headers.push_back({":method", request.method});
  side.headers.push_back({":scheme", "http"});
  if (const std::string* host = request.header("host")) side.headers.push_back({":authority", *host});
  side.headers.push_back({":path", request.target});
  for (const Header& h : request.headers) {
    if (hop_only(h.name)) continue;
    side.headers.push_back({to_lower(h.name), h.value});
  }
  side.headers_truncated = request.headers_truncated;
  side.data_bytes = request.body_bytes;
  side.data_gap = request.body_had_gap;
  side.first_ts = request.first_ts;
  side.first_offset = request.stream_offset;
  side.last_ts = request.last_ts;
  return side;
}

}  // namespace

Session::Session(const SessionContext& context)
    : context_(context), counters_(context.counters.of(protocol_id::HTTP1)), matcher_(context.settings.http1) {
  matcher_.keep_bytes_after_upgrade();
  matcher_.attach_counters(counters_);
}

void Session::feed(bool from_client, std::string_view bytes, uint64_t ts) {
  switch (now_) {
    case After::kHttp2: return http2_->feed(from_client, bytes, ts);
    case After::kOpaque: return counters_.add(counter::upgraded_bytes_unparsed, bytes.size());
    case After::kHttp1: break;
  }
  from_client ? matcher_.feed_request(bytes, ts) : matcher_.feed_response(bytes, ts);
  if (matcher_.upgraded()) return on_protocol_switch();
  announce_body(from_client);
}

// A Content-Length body under way: its remaining bytes need not be copied.
void Session::announce_body(bool from_client) {
  if (context_.body_ahead == nullptr) return;
  const auto span = from_client ? matcher_.request_body_ahead() : matcher_.response_body_ahead();
  uint64_t& announced = announced_to_[from_client ? 0 : 1];
  if (!span || span->offset + span->length <= announced) return;
  announced = span->offset + span->length;
  context_.body_ahead->body_ahead(from_client, span->offset, span->length);
}

void Session::skip(bool from_client, uint64_t length, uint64_t ts) {
  if (now_ != After::kHttp1) return gap(from_client, length, ts);
  from_client ? matcher_.skip_request(length, ts) : matcher_.skip_response(length, ts);
}

void Session::gap(bool from_client, uint64_t length, uint64_t ts) {
  switch (now_) {
    case After::kHttp2: return http2_->gap(from_client, length, ts);
    case After::kOpaque: return;  // nothing was going to be parsed
    case After::kHttp1: break;
  }
  from_client ? matcher_.gap_request(length, ts) : matcher_.gap_response(length, ts);
  if (matcher_.upgraded()) on_protocol_switch();
}

void Session::close(uint64_t ts) {
  matcher_.close(ts);
  if (now_ == After::kHttp1 && matcher_.upgraded()) on_protocol_switch();
  if (http2_) http2_->close(ts);
}

void Session::collect_exchanges() {
  for (auto& ex : matcher_.take_exchanges()) exchanges_.push_back(std::move(ex));
}

// The matcher saw 101 (or a CONNECT 2xx): decide what the rest of the connection is.
void Session::on_protocol_switch() {
  if (now_ != After::kHttp1) return forward_upgraded_bytes();
  collect_exchanges();
  now_ = After::kOpaque;
  for (auto it = exchanges_.rbegin(); it != exchanges_.rend(); ++it) {
    if (!it->response || it->response->status_code != 101) continue;
    const std::string* upgrade = it->response->header("upgrade");
    if (upgrade && list_contains(*upgrade, "h2c")) {
      now_ = After::kHttp2;
      http2_ = http2::make_session(context_);
      http2_->seed_upgrade_stream(as_stream_one(it->request));
      exchanges_.erase(std::next(it).base());  // its span comes from HTTP/2 stream 1
      counters_.add(counter::upgrades_h2c);
    }
    break;
  }
  forward_upgraded_bytes();
}

void Session::forward_upgraded_bytes() {
  for (bool from_client : {true, false}) {
    auto pieces = from_client ? matcher_.take_upgraded_request_bytes() : matcher_.take_upgraded_response_bytes();
    for (const StreamPiece& piece : pieces) {
      if (now_ == After::kOpaque) {
        counters_.add(counter::upgraded_bytes_unparsed, piece.bytes.size());
      } else if (piece.bytes.empty()) {
        http2_->gap(from_client, piece.gap, piece.ts);
      } else {
        http2_->feed(from_client, piece.bytes, piece.ts);
      }
    }
  }
}

void Session::publish(const ConnectionFacts& conn, RecordSink& sink) {
  collect_exchanges();
  for (const Exchange& ex : exchanges_) sink.record(to_record(conn, ex, context_.settings.url_redaction));
  exchanges_.clear();
  if (http2_) http2_->publish(conn, sink);
}

}  // namespace spanwire::http1
