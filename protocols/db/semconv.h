// OpenTelemetry's database semantic conventions (the stable db.* names),
// shared by the database protocols: what a database call says, turned into a
// record's name, attributes and status. Query text arrives already
// sanitized: no literal or parameter value ever reaches a record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/connection_facts.h"
#include "common/exchange_record.h"
#include "db/sql.h"

namespace spanwire::db {

struct Call {
  std::string_view system;           // db.system.name: "redis", "postgresql", "mysql", "mariadb"
  std::string operation;             // db.operation.name; empty: unknown
  std::string collection;            // db.collection.name: the one table a query names
  std::optional<std::string> ns;     // db.namespace
  std::string query_text;            // db.query.text, sanitized
  std::string query_summary;         // db.query.summary ("SELECT items")
  std::optional<int64_t> batch_size; // db.operation.batch.size
  bool answered = false;
  std::string status_code;           // db.response.status_code; empty: success
  bool failed = false;               // the answer is an error
  bool text_unknown = false;         // a statement prepared before the sensor: its text was never seen
  uint64_t start_ts = 0, end_ts = 0, request_offset = 0;
};

extern const Semconv kSemconv;

// Fills the call's query text, operation, collection and summary from SQL,
// sanitized per `dialect` (db/sql.h).
void describe_sql(Call& call, std::string_view sql, Dialect dialect);

// The record of one call: name "{summary}", else "{operation} {collection}",
// else "{operation}", else the system's name.
ExchangeRecord to_record(const Call& call);

}  // namespace spanwire::db
