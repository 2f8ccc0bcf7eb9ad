#include "conn/http1_session.h"

#include "common/text.h"
#include "conn/connection_tracker.h"
#include "metrics/metrics.h"

namespace spanwire {

namespace {

void add_parser_growth(Metrics& m, const http1::ParserStats& now, http1::ParserStats& published) {
  add_growth(m.http1_messages, now.messages, published.messages);
  add_growth(m.http1_resyncs, now.resyncs, published.resyncs);
  add_growth(m.http1_parse_errors, now.errors, published.errors);
  add_growth(m.http1_unparsed_bytes, now.skipped_bytes, published.skipped_bytes);
  add_growth(m.http1_heads_truncated, now.heads_cut, published.heads_cut);
  add_growth(m.http1_framing_invalid, now.framing_invalid, published.framing_invalid);
}

// Header fields that belong to the HTTP/1.1 hop and the upgrade itself, not to the
// request that HTTP/2 stream 1 carries (RFC 9113 8.2.2).
bool hop_only(std::string_view name) {
  for (std::string_view h : {"host", "connection", "upgrade", "http2-settings", "keep-alive",
                             "proxy-connection", "transfer-encoding", "te"}) {
    if (http1::iequals(name, h)) return true;
  }
  return false;
}

// The upgrade request as HTTP/2 stream 1's request side (RFC 7540 3.2).
http2::StreamSide as_stream_one(const http1::Message& request) {
  http2::StreamSide side;
  side.headers.push_back({":method", request.method});
  side.headers.push_back({":scheme", "http"});
  if (const std::string* host = request.header("host")) side.headers.push_back({":authority", *host});
  side.headers.push_back({":path", request.target});
  for (const http1::Header& h : request.headers) {
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

Http1Session::Http1Session(const http1::Limits& limits) : matcher_(limits) {
  matcher_.keep_bytes_after_upgrade();
}

void Http1Session::feed(bool from_client, std::string_view bytes, uint64_t ts) {
  switch (now_) {
    case After::kHttp2: return http2_->feed(from_client, bytes, ts);
    case After::kOpaque: opaque_bytes_ += bytes.size(); return;
    case After::kHttp1: break;
  }
  from_client ? matcher_.feed_request(bytes, ts) : matcher_.feed_response(bytes, ts);
  if (matcher_.upgraded()) on_protocol_switch();
}

void Http1Session::gap(bool from_client, uint64_t length, uint64_t ts) {
  switch (now_) {
    case After::kHttp2: return http2_->gap(from_client, length, ts);
    case After::kOpaque: return;  // nothing was going to be parsed
    case After::kHttp1: break;
  }
  from_client ? matcher_.gap_request(length, ts) : matcher_.gap_response(length, ts);
  if (matcher_.upgraded()) on_protocol_switch();
}

void Http1Session::close(uint64_t ts) {
  matcher_.close(ts);
  if (now_ == After::kHttp1 && matcher_.upgraded()) on_protocol_switch();
  if (http2_) http2_->close(ts);
}

void Http1Session::collect_exchanges() {
  for (auto& ex : matcher_.take_exchanges()) exchanges_.push_back(std::move(ex));
}

// The matcher saw 101 (or a CONNECT 2xx): decide what the rest of the connection is.
void Http1Session::on_protocol_switch() {
  if (now_ != After::kHttp1) return forward_upgraded_bytes();
  collect_exchanges();
  now_ = After::kOpaque;
  for (auto it = exchanges_.rbegin(); it != exchanges_.rend(); ++it) {
    if (!it->response || it->response->status_code != 101) continue;
    const std::string* upgrade = it->response->header("upgrade");
    if (upgrade && http1::list_contains(*upgrade, "h2c")) {
      now_ = After::kHttp2;
      http2_ = std::make_unique<Http2Session>();
      http2_->seed_upgrade_stream(as_stream_one(it->request));
      exchanges_.erase(std::next(it).base());  // its span comes from HTTP/2 stream 1
    }
    break;
  }
  forward_upgraded_bytes();
}

void Http1Session::forward_upgraded_bytes() {
  for (bool from_client : {true, false}) {
    auto pieces = from_client ? matcher_.take_upgraded_request_bytes() : matcher_.take_upgraded_response_bytes();
    for (const http1::StreamPiece& piece : pieces) {
      if (now_ == After::kOpaque) {
        opaque_bytes_ += piece.bytes.size();
      } else if (piece.bytes.empty()) {
        http2_->gap(from_client, piece.gap, piece.ts);
      } else {
        http2_->feed(from_client, piece.bytes, piece.ts);
      }
    }
  }
}

void Http1Session::publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) {
  add_parser_growth(metrics, matcher_.request_stats(), published_req_);
  add_parser_growth(metrics, matcher_.response_stats(), published_resp_);
  const auto& ms = matcher_.stats();
  add_growth(metrics.exchanges, ms.exchanges, published_matcher_.exchanges);
  add_growth(metrics.exchanges_unanswered, ms.unanswered, published_matcher_.unanswered);
  add_growth(metrics.responses_orphaned, ms.orphan_responses, published_matcher_.orphan_responses);
  add_growth(metrics.http1_requests_dropped_in_flight, ms.dropped_over_bound, published_matcher_.dropped_over_bound);
  add_growth(metrics.http1_requests_unpaired_after_loss, ms.requests_unpaired_after_loss,
             published_matcher_.requests_unpaired_after_loss);
  add_growth(metrics.http1_responses_unpaired_after_loss, ms.responses_unpaired_after_loss,
             published_matcher_.responses_unpaired_after_loss);
  add_growth(metrics.upgraded_bytes_unparsed, opaque_bytes_, published_opaque_);
  if (http2_ && !published_upgrade_) {
    metrics.http1_upgrades_h2c++;
    published_upgrade_ = true;
  }
  collect_exchanges();
  for (auto& ex : std::exchange(exchanges_, {})) observer.on_exchange(conn, std::move(ex));
  if (http2_) http2_->publish(conn, observer, metrics);
}

}  // namespace spanwire
