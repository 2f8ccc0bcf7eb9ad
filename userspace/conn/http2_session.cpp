#include "conn/http2_session.h"

#include "conn/connection_tracker.h"
#include "metrics/metrics.h"

namespace spanwire {

void Http2Session::publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) {
  const http2::ParserStats& now = parser_.stats();
  add_growth(metrics.http2_frames, now.frames, published_.frames);
  add_growth(metrics.http2_streams, now.streams, published_.streams);
  add_growth(metrics.http2_resets, now.resets, published_.resets);
  add_growth(metrics.http2_goaways, now.goaways, published_.goaways);
  add_growth(metrics.http2_parse_errors, now.errors, published_.errors);
  add_growth(metrics.http2_unparsed_bytes, now.skipped_bytes, published_.skipped_bytes);
  add_growth(metrics.http2_hpack_uncertain_blocks, now.hpack_uncertain_blocks, published_.hpack_uncertain_blocks);
  if (now.hpack_state_unknown && !published_.hpack_state_unknown) {
    metrics.http2_hpack_unknown_connections++;
    published_.hpack_state_unknown = true;
  }
  for (auto& stream : parser_.take_streams()) observer.on_http2_stream(conn, std::move(stream));
}

}  // namespace spanwire
