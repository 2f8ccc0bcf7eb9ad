#include "http2/session.h"

#include <algorithm>

#include "common/text.h"
#include "http/semconv.h"
#include "http2/frame.h"
#include "protocol_ids.h"

namespace spanwire::http2 {
namespace {

// An HTTP/2 :status: three digits (RFC 9110 section 15), else 0.
int parse_status_code(std::string_view text) {
  int code = 0;
  return text.size() == 3 && parse_whole(text, code) && code >= 100 ? code : 0;
}

std::string_view value_or(const std::string* v, std::string_view fallback) { return v ? std::string_view(*v) : fallback; }

void describe_http(ExchangeRecord& record, const ConnectionFacts& conn, const Stream& st,
                   const UrlRedaction& redaction) {
  const StreamSide& rq = st.request;
  const StreamSide& rs = st.response;
  http::HttpFacts f;
  f.method = value_or(rq.header(":method"), "");
  f.target = value_or(rq.header(":path"), "");
  f.scheme = value_or(rq.header(":scheme"), conn.tls ? "https" : "http");
  f.authority = rq.header(":authority");
  f.user_agent = rq.header("user-agent");
  f.protocol_version = "2";
  f.request_body = rq.data_bytes;
  if (const std::string* status = rs.header(":status")) {
    f.answered = true;
    f.status = parse_status_code(*status);
    f.response_body = rs.data_bytes;
  }
  http::describe(record, conn, f, redaction);
}

}  // namespace

Session::Session(const SessionContext& context, std::span<const StreamLayer* const> layers)
    : context_(context), layers_(layers) {
  parser_.attach_counters(context.counters.of(protocol_id::HTTP2));
  if (!layers_.empty()) {
    parser_.set_data_taps([layers = layers_](const StreamSide& side) -> std::unique_ptr<DataTap> {
      for (const StreamLayer* layer : layers)
        if (auto tap = layer->tap(side)) return tap;
      return nullptr;
    });
  }
}

ExchangeRecord Session::to_record(const ConnectionFacts& conn, const Stream& st) const {
  const StreamSide& rq = st.request;
  const StreamSide& rs = st.response;
  ExchangeRecord record;
  record.start_ts = rq.first_ts != 0 ? rq.first_ts : rs.first_ts;
  record.end_ts = std::max({record.start_ts, rq.last_ts, rs.last_ts});
  record.request_offset = rq.first_offset;
  record.stream = st.id;
  record.attributes.reserve(kAttributesPerRecord);
  http::copy_context(record, rq.headers);
  bool claimed = false;
  for (const StreamLayer* layer : layers_) {
    if ((claimed = layer->describe(record, conn, st))) break;
  }
  if (!claimed) describe_http(record, conn, st, context_.settings.url_redaction);
  auto& a = record.attributes;
  a.push_back({"spanwire.http2.stream_id", static_cast<int64_t>(st.id)});
  if (rq.headers_uncertain || rs.headers_uncertain) a.push_back({"spanwire.http2.headers_incomplete", true});
  // A reset or refused stream failed whatever its status said.
  if (st.rst_error || st.refused) {
    const uint32_t code = st.rst_error ? *st.rst_error : st.goaway_error.value_or(0);
    record.status = StatusCode::kError;
    record.status_message = st.refused ? "stream refused by GOAWAY" : "stream reset by RST_STREAM";
    a.push_back({"error.type", std::string(error_code_name(code))});
  } else if (!rs.end_stream && record.status != StatusCode::kError) {
    http::mark_unanswered(record, "connection closed before the response ended");
  }
  return record;
}

void Session::publish(const ConnectionFacts& conn, RecordSink& sink) {
  for (const Stream& stream : parser_.take_streams()) sink.record(to_record(conn, stream));
}

}  // namespace spanwire::http2
