// A Redis command and its reply as a record, per OpenTelemetry's database
// conventions: db.query.text is the command with every argument replaced by
// "?"; no key or value ever leaves the host.
#pragma once

#include <optional>
#include <string>

#include "common/connection_facts.h"
#include "common/exchange_record.h"
#include "redis/resp.h"

namespace spanwire::redis {

// `ns`: the database selected when the command was sent; unknown when joined mid-way.
ExchangeRecord to_record(const ConnectionFacts& conn, const Value& command, const std::string& operation,
                         const std::optional<std::string>& ns, const std::optional<Value>& reply,
                         std::optional<int64_t> batch, uint64_t end_ts);

// "ERR", "WRONGTYPE", "NOAUTH": the error reply's first word, when it is an upper-case code.
std::string error_code(std::string_view error_text);

}  // namespace spanwire::redis
