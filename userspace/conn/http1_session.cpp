#include "conn/http1_session.h"

#include "conn/connection_tracker.h"
#include "metrics/metrics.h"

namespace spanwire {

namespace {

void add_parser_growth(Metrics& m, const http1::ParserStats& now, http1::ParserStats& published) {
  add_growth(m.http1_messages, now.messages, published.messages);
  add_growth(m.http1_resyncs, now.resyncs, published.resyncs);
  add_growth(m.http1_parse_errors, now.errors, published.errors);
  add_growth(m.http1_unparsed_bytes, now.skipped_bytes, published.skipped_bytes);
}
}  // namespace

void Http1Session::publish(const ConnectionInfo& conn, ConnectionObserver& observer, Metrics& metrics) {
  add_parser_growth(metrics, matcher_.request_stats(), published_req_);
  add_parser_growth(metrics, matcher_.response_stats(), published_resp_);
  const auto& ms = matcher_.stats();
  add_growth(metrics.exchanges, ms.exchanges, published_matcher_.exchanges);
  add_growth(metrics.exchanges_unanswered, ms.unanswered, published_matcher_.unanswered);
  add_growth(metrics.responses_orphaned, ms.orphan_responses, published_matcher_.orphan_responses);
  for (auto& ex : matcher_.take_exchanges()) observer.on_exchange(conn, std::move(ex));
}

}  // namespace spanwire
