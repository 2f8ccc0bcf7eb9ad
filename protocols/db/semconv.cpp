#include "db/semconv.h"

namespace spanwire::db {
namespace {

ExchangeSummary summarize(std::span<const Attribute> attributes) {
  ExchangeSummary s;
  s.operation = string_attribute(attributes, "db.operation.name");
  if (s.operation.empty()) s.operation = string_attribute(attributes, "db.system.name");
  s.target = string_attribute(attributes, "db.query.summary");
  if (s.target.empty()) s.target = string_attribute(attributes, "db.query.text");
  s.outcome = string_attribute(attributes, "db.response.status_code");
  return s;
}

constexpr std::string_view kSeriesKeys[] = {"db.system.name", "db.namespace", "db.operation.name",
                                            "db.collection.name", "db.response.status_code"};

}  // namespace

const Semconv kSemconv{MetricFamily::kDb, kSeriesKeys, summarize};

void describe_sql(Call& call, std::string_view sql, Dialect dialect) {
  const SqlFacts facts = sanitize_sql(sql, dialect);
  call.query_text = facts.text;
  call.operation = facts.operation;
  if (facts.tables.size() == 1) call.collection = facts.tables[0];
  call.query_summary = query_summary(facts);
}

ExchangeRecord to_record(const Call& call) {
  ExchangeRecord r;
  r.semconv = &kSemconv;
  r.start_ts = call.start_ts;
  r.end_ts = call.end_ts;
  r.request_offset = call.request_offset;
  r.answered = call.answered;
  r.attributes.reserve(kAttributesPerRecord);
  auto& a = r.attributes;
  a.push_back({"db.system.name", std::string(call.system)});
  if (!call.operation.empty()) a.push_back({"db.operation.name", call.operation});
  if (!call.collection.empty()) a.push_back({"db.collection.name", call.collection});
  if (call.ns) a.push_back({"db.namespace", *call.ns});
  if (!call.query_text.empty()) a.push_back({"db.query.text", call.query_text});
  if (!call.query_summary.empty()) a.push_back({"db.query.summary", call.query_summary});
  if (call.batch_size) a.push_back({"db.operation.batch.size", *call.batch_size});
  if (!call.status_code.empty()) a.push_back({"db.response.status_code", call.status_code});
  if (call.text_unknown) a.push_back({"spanwire.db.query.text_unknown", true});

  if (!call.query_summary.empty()) {
    r.name = call.query_summary;
  } else if (!call.operation.empty()) {
    r.name = call.collection.empty() ? call.operation : call.operation + " " + call.collection;
  } else {
    r.name = std::string(call.system);
  }
  if (!call.answered) {
    r.status = StatusCode::kError;
    r.status_message = "connection closed before an answer";
    a.push_back({"error.type", std::string("no_response")});
  } else if (call.failed) {
    r.status = StatusCode::kError;
    a.push_back({"error.type", call.status_code.empty() ? std::string("_OTHER") : call.status_code});
  }
  return r;
}

}  // namespace spanwire::db
