// SQL text made safe to export and summarised, for the database modules:
// literals become "?", comments go, parameters and identifiers stay; the
// first keyword is the operation and the tables it names (FROM, JOIN, INTO,
// UPDATE, TABLE) make the summary ("SELECT items", "SELECT orders items").
// A tokenizer, not a parser: it never fails, and whatever it cannot
// classify is kept only if it is a keyword, identifier or punctuation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spanwire::db {

enum class Dialect {
  kPostgres,  // '...', E'...', $tag$...$tag$ strings; "..." identifiers
  kMySql,     // '...' and "..." strings (with backslash escapes); `...` identifiers
};

struct SqlFacts {
  std::string text;       // sanitized, whitespace collapsed, at most kMaxText bytes
  std::string operation;  // upper case: SELECT, INSERT, ...; empty when none
  std::vector<std::string> tables;  // in order of appearance, at most 3, unquoted
  bool truncated = false;           // the input was cut (only its start was seen)
};

inline constexpr size_t kMaxSqlText = 2048;

SqlFacts sanitize_sql(std::string_view sql, Dialect dialect);

// "{operation} {table} {table}...": the db.query.summary of `facts`.
std::string query_summary(const SqlFacts& facts);

}  // namespace spanwire::db
