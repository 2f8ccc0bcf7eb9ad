#include "http1/semconv.h"

#include <algorithm>

#include "http/semconv.h"

namespace spanwire::http1 {
namespace {

// Whether the body of a message was delimited: not when its head was cut
// short or its Content-Length / Transfer-Encoding frame nothing.
bool framed(const Message& m) { return !m.head_cut && !m.framing_invalid; }

// What is certain of such a message (its start line) is reported, and flagged.
void flag_unframed(ExchangeRecord& record, const Message& m) {
  const bool request = m.kind == Kind::kRequest;
  if (m.head_cut)
    record.attributes.push_back(
        {request ? "spanwire.http.request.head_truncated" : "spanwire.http.response.head_truncated", true});
  if (m.framing_invalid)
    record.attributes.push_back(
        {request ? "spanwire.http.request.framing_invalid" : "spanwire.http.response.framing_invalid", true});
}

}  // namespace

ExchangeRecord to_record(const ConnectionFacts& conn, const Exchange& ex, const UrlRedaction& redaction) {
  const Message& req = ex.request;
  const Message* resp = ex.response ? &*ex.response : nullptr;
  ExchangeRecord record;
  record.start_ts = req.first_ts;
  record.end_ts = resp ? std::max(resp->last_ts, req.last_ts) : req.last_ts;
  record.request_offset = req.stream_offset;
  record.attributes.reserve(kAttributesPerRecord);
  http::copy_context(record, req.headers);
  http::HttpFacts f;
  f.method = req.method;
  f.target = req.target;
  f.scheme = conn.tls ? "https" : "http";
  f.authority = req.header("host");
  f.user_agent = req.header("user-agent");
  f.protocol_version = "1." + std::to_string(req.version_minor);
  if (framed(req)) f.request_body = req.body_bytes;
  if (resp) {
    f.answered = true;
    f.status = resp->status_code;
    if (framed(*resp)) f.response_body = resp->body_bytes;
  }
  http::describe(record, conn, f, redaction);
  flag_unframed(record, req);
  if (resp) flag_unframed(record, *resp);
  if (!resp) http::mark_unanswered(record, "connection closed before a response");
  return record;
}

}  // namespace spanwire::http1
