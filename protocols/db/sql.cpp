#include "db/sql.h"

#include <algorithm>
#include <cctype>

#include "common/text.h"

namespace spanwire::db {
namespace {

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// The end of a quoted run that starts at s[i] == quote; `backslash`: \x escapes.
size_t skip_quoted(std::string_view s, size_t i, char quote, bool backslash) {
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (backslash && s[j] == '\\') {
      ++j;
    } else if (s[j] == quote) {
      if (j + 1 < s.size() && s[j + 1] == quote) {  // doubled: an escaped quote
        ++j;
      } else {
        return j + 1;
      }
    }
  }
  return s.size();  // unterminated (the text was cut): the rest is the literal
}

// PostgreSQL dollar quoting: $tag$ ... $tag$ (tag may be empty); npos if s[i] does not open one.
size_t skip_dollar_quoted(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && ident_char(s[j]) && s[j] != '$') ++j;
  if (j >= s.size() || s[j] != '$' || (j > i + 1 && digit(s[i + 1]))) return std::string_view::npos;
  const std::string_view tag = s.substr(i, j - i + 1);
  const size_t end = s.find(tag, j + 1);
  return end == std::string_view::npos ? s.size() : end + tag.size();
}

size_t skip_number(std::string_view s, size_t i) {
  size_t j = i;
  if (s.compare(i, 2, "0x") == 0 || s.compare(i, 2, "0X") == 0) {
    j += 2;
    while (j < s.size() && std::isxdigit(static_cast<unsigned char>(s[j]))) ++j;
    return j;
  }
  while (j < s.size() && (digit(s[j]) || s[j] == '.' || s[j] == '_')) ++j;
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k < s.size() && digit(s[k])) {
      j = k;
      while (j < s.size() && digit(s[j])) ++j;
    }
  }
  return j;
}

size_t skip_comment(std::string_view s, size_t i, Dialect d) {
  if (s[i] == '#' || s[i] == '-') {  // to the end of the line
    const size_t nl = s.find('\n', i);
    return nl == std::string_view::npos ? s.size() : nl + 1;
  }
  int depth = 0;  // /* */, nested in PostgreSQL
  for (size_t j = i; j + 1 < s.size(); ++j) {
    if (s[j] == '/' && s[j + 1] == '*') {
      depth = d == Dialect::kPostgres ? depth + 1 : 1;
      ++j;
    } else if (s[j] == '*' && s[j + 1] == '/') {
      if (--depth == 0) return j + 2;
      ++j;
    }
  }
  return s.size();
}

class Sanitizer {
 public:
  Sanitizer(std::string_view sql, Dialect d) : s_(sql), d_(d) {}

  SqlFacts run() {
    size_t i = 0;
    while (i < s_.size() && !facts_.truncated) {
      const char c = s_[i];
      const char next = i + 1 < s_.size() ? s_[i + 1] : '\0';
      if (space(c)) {
        pending_space_ = !facts_.text.empty();
        ++i;
      } else if ((c == '-' && next == '-') || (c == '/' && next == '*') || (c == '#' && d_ == Dialect::kMySql)) {
        i = skip_comment(s_, i, d_);
        pending_space_ = !facts_.text.empty();
      } else if (c == '\'') {
        i = literal(skip_quoted(s_, i, '\'', d_ == Dialect::kMySql));
      } else if (c == '"') {
        i = d_ == Dialect::kMySql ? literal(skip_quoted(s_, i, '"', true)) : identifier(i, skip_quoted(s_, i, '"', false));
      } else if (c == '`' && d_ == Dialect::kMySql) {
        i = identifier(i, skip_quoted(s_, i, '`', false));
      } else if (c == '$' && d_ == Dialect::kPostgres && !digit(next)) {
        const size_t end = skip_dollar_quoted(s_, i);
        i = end == std::string_view::npos ? punct(i) : literal(end);
      } else if ((c == 'E' || c == 'e' || c == 'B' || c == 'b' || c == 'X' || c == 'x' || c == 'N' || c == 'n') &&
                 next == '\'' && !prev_ident_char(i)) {
        const bool escapes = c == 'E' || c == 'e' || d_ == Dialect::kMySql;
        i = literal(skip_quoted(s_, i + 1, '\'', escapes));
      } else if (digit(c) || (c == '.' && digit(next))) {
        i = literal(skip_number(s_, i));
      } else if (ident_start(c)) {
        size_t j = i;
        while (j < s_.size() && ident_char(s_[j])) ++j;
        i = word(i, j);
      } else if (c == '$' && digit(next)) {  // a parameter: $1
        size_t j = i + 1;
        while (j < s_.size() && digit(s_[j])) ++j;
        emit(s_.substr(i, j - i));
        i = j;
      } else {
        i = punct(i);
      }
    }
    return std::move(facts_);
  }

 private:
  bool prev_ident_char(size_t i) const { return i > 0 && ident_char(s_[i - 1]); }

  void emit(std::string_view token) {
    if (pending_space_) facts_.text += ' ';
    pending_space_ = false;
    if (facts_.text.size() + token.size() > kMaxSqlText) {
      facts_.truncated = true;
      return;
    }
    facts_.text += token;
  }

  size_t literal(size_t end) {
    emit("?");
    expect_table_ = false;
    return end;
  }

  size_t punct(size_t i) {
    emit(s_.substr(i, 1));
    if (s_[i] != '.') expect_table_ = false;
    return i + 1;
  }

  size_t identifier(size_t i, size_t end) {
    const std::string_view quoted = s_.substr(i, end - i);
    // Unterminated (the text was cut) or holding a quote (a ' anywhere, a " in
    // a MySQL backtick name): it may be a literal's remains, never echoed.
    if (quoted.size() < 2 || quoted.back() != quoted.front() || quoted.find('\'') != std::string_view::npos ||
        (quoted.front() == '`' && quoted.find('"') != std::string_view::npos))
      return literal(end);
    emit(quoted);
    const std::string_view bare = quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : quoted;
    table_part(bare, end);
    return end;
  }

  size_t word(size_t i, size_t end) {
    const std::string_view w = s_.substr(i, end - i);
    emit(w);
    const std::string up = upper(w);
    if (facts_.operation.empty()) {
      facts_.operation = up;
      if (up == "TRUNCATE" || up == "CREATE" || up == "DROP" || up == "ALTER") expect_table_kw_ = true;
      if (up == "COPY") {  // COPY items FROM STDIN
        expect_table_ = true;
        return end;
      }
    }
    if (expect_table_ && (up == "STDIN" || up == "STDOUT")) {
      expect_table_ = false;
      return end;
    }
    if (up == "FROM" || up == "JOIN" || up == "INTO" || (up == "UPDATE" && facts_.operation == "UPDATE") ||
        (up == "TABLE" && expect_table_kw_)) {
      expect_table_ = true;
      table_.clear();
      return end;
    }
    if (expect_table_ && (up == "ONLY" || up == "LATERAL" || up == "IF" || up == "NOT" || up == "EXISTS")) return end;
    table_part(w, end);
    return end;
  }

  // A name after FROM/JOIN/INTO/UPDATE/TABLE, possibly schema-qualified:
  // complete unless a '.' follows at `end`.
  void table_part(std::string_view name, size_t end) {
    if (!expect_table_) return;
    if (!table_.empty()) table_ += '.';
    table_ += name;
    if (end >= s_.size() || s_[end] != '.') {
      if (facts_.tables.size() < 3 && std::find(facts_.tables.begin(), facts_.tables.end(), table_) == facts_.tables.end())
        facts_.tables.push_back(table_);
      expect_table_ = false;
      table_.clear();
    }
  }

  std::string_view s_;
  Dialect d_;
  SqlFacts facts_;
  bool pending_space_ = false;
  bool expect_table_ = false;
  bool expect_table_kw_ = false;
  std::string table_;
};

}  // namespace

SqlFacts sanitize_sql(std::string_view sql, Dialect dialect) { return Sanitizer(sql, dialect).run(); }

std::string query_summary(const SqlFacts& facts) {
  std::string out = facts.operation;
  for (const std::string& t : facts.tables) out += " " + t;
  return out;
}

}  // namespace spanwire::db
