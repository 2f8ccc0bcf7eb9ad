#include "redis/resp.h"

#include <algorithm>
#include <utility>

#include "common/text.h"

namespace spanwire::redis {
namespace {

constexpr uint64_t kMaxBulk = 512ULL * 1024 * 1024;  // proto-max-bulk-len's default
constexpr int64_t kMaxElements = 1LL << 32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RESP2 and RESP3 type bytes.
bool known_type(char c) {
  switch (c) {
    case '+': case '-': case ':': case '$': case '*':                                  // RESP2
    case '_': case '#': case ',': case '(': case '!': case '=': case '%': case '~':  // RESP3
    case '>': case '|':
      return true;
    default:
      return false;
  }
}

bool aggregate(char c) { return c == '*' || c == '%' || c == '~' || c == '>' || c == '|'; }
bool bulk(char c) { return c == '$' || c == '!' || c == '='; }

// A signed decimal of a length line; false when it is not one.
bool parse_length(std::string_view s, int64_t& out) {
  if (s == "-1") {
    out = -1;
    return true;
  }
  uint64_t v = 0;
  if (s.size() > 12 || !parse_whole(s, v)) return false;
  out = static_cast<int64_t>(v);
  return true;
}

// "*N\r\n$M\r\n" and a command name's first letters, within `b`.
bool plausible_command(std::string_view b) {
  size_t i = 1;
  if (b.size() < 10 || b[0] != '*' || b[1] < '1' || b[1] > '9') return false;
  while (i < b.size() && i < 9 && is_digit(b[i])) ++i;
  if (i + 3 > b.size() || b[i] != '\r' || b[i + 1] != '\n' || b[i + 2] != '$') return false;
  i += 3;
  const size_t digits_at = i;
  while (i < b.size() && i - digits_at < 3 && is_digit(b[i])) ++i;
  if (i == digits_at || i + 3 > b.size() || b[i] != '\r' || b[i + 1] != '\n') return false;
  const char c = static_cast<char>(b[i + 2] | 0x20);
  return c >= 'a' && c <= 'z';
}

}  // namespace

void Reader::feed(std::string_view bytes, uint64_t ts) {
  while (!bytes.empty()) {
    const size_t used = state_ == State::kLost ? read_lost(bytes) : step(bytes, ts);
    bytes.remove_prefix(used);
  }
}

// Out of sync: requests look for the next command start, replies wait for
// the offset the session names. Returns the bytes skipped.
size_t Reader::read_lost(std::string_view bytes) {
  size_t skip = bytes.size();
  if (side_ == Side::kRequests) {
    skip = std::min(skip, find_request_start(bytes));
  } else if (resume_ >= pos_ && resume_ < pos_ + bytes.size()) {
    skip = static_cast<size_t>(resume_ - pos_);
  }
  stats_.skipped_bytes += skip;
  pos_ += skip;
  if (skip < bytes.size()) {
    resume_ = UINT64_MAX;
    if (known_type(bytes[skip])) {
      state_ = State::kType;
    } else {  // the named offset does not begin a value: wait for another
      stats_.errors++;
    }
    if (state_ == State::kLost) {
      stats_.skipped_bytes += 1;
      pos_ += 1;
      return skip + 1;
    }
  }
  return skip;
}

// Where a command can begin: the start of the chunk (clients write commands
// whole) or a line start, checked for "*N\r\n$M\r\n<letter>".
size_t Reader::find_request_start(std::string_view bytes) const {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '*' || (i > 0 && bytes[i - 1] != '\n')) continue;
    if (plausible_command(bytes.substr(i, 32))) return i;
  }
  return std::string_view::npos;
}

void Reader::resume_at(uint64_t offset) {
  if (state_ != State::kLost || offset < pos_) return;
  resume_ = offset;
}

void Reader::gap(uint64_t n, uint64_t ts) {
  if (n == 0) return;
  if (state_ == State::kBulk && n <= bulk_left_) {
    bulk_left_ -= n;
    pos_ += n;
    cur_.had_gap = true;
    cur_.last_ts = std::max(cur_.last_ts, ts);
    if (bulk_left_ == 0) {
      state_ = State::kBulkEnd;
      line_.clear();
    }
    return;
  }
  if (state_ != State::kLost) lose_sync();
  pos_ += n;
}

void Reader::lose_sync() {
  stats_.resyncs++;
  state_ = State::kLost;
  in_value_ = false;
  stack_.clear();
  line_.clear();
  cur_ = Value{};
}

void Reader::malformed() {
  stats_.errors++;
  lose_sync();
}

std::deque<Value> Reader::take() { return std::exchange(done_, {}); }

bool Reader::wants_head() const {
  if (stack_.size() != 1 || (cur_.type != '*' && cur_.type != '>')) return false;
  if (cur_.head.empty()) return true;
  if (side_ != Side::kRequests) return false;
  // SELECT's index, CLIENT's subcommand, and CLIENT REPLY's mode: nothing else.
  if (cur_.head.size() == 1) return iequals(cur_.head[0], "SELECT") || iequals(cur_.head[0], "CLIENT");
  return cur_.head.size() == 2 && iequals(cur_.head[0], "CLIENT") && iequals(cur_.head[1], "REPLY");
}

void Reader::keep_string(std::string_view s) { cur_.head.emplace_back(s.substr(0, kMaxHeadBytes)); }

void Reader::begin_value(char type, uint64_t ts) {
  cur_ = Value{};
  cur_.type = type;
  cur_.offset = pos_;
  cur_.first_ts = cur_.last_ts = ts;
  cur_.losses_before = stats_.resyncs;
  in_value_ = true;
}

// One step of the state machine over the front of `bytes`; returns the bytes used.
size_t Reader::step(std::string_view bytes, uint64_t ts) {
  if (in_value_) cur_.last_ts = std::max(cur_.last_ts, ts);
  switch (state_) {
    case State::kType: {
      const char c = bytes[0];
      if (!in_value_) {
        if (side_ == Side::kRequests && c != '*') {  // an inline command: a line of words
          begin_value('i', ts);
          state_ = State::kInline;
          line_.clear();
          line_start_ = pos_;
          return 0;
        }
        begin_value(c, ts);
      } else if (stack_.empty()) {
        cur_.type = c;  // the value an attribute ('|') preceded
      }
      if (!known_type(c)) {
        malformed();
        return 0;
      }
      type_ = c;
      state_ = State::kLine;
      line_.clear();
      line_cut_ = false;
      line_start_ = pos_;
      pos_ += 1;
      return 1;
    }
    case State::kLine:
    case State::kInline: {
      const size_t nl = bytes.find('\n');
      const size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
      const std::string_view part = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl);
      // Lines worth keeping are short; a simple string's rest is skipped.
      const size_t room = line_.size() < 256 ? 256 - line_.size() : 0;
      line_.append(part.substr(0, room));
      line_cut_ = line_cut_ || part.size() > room;
      pos_ += take;
      if (nl == std::string_view::npos) {
        if (pos_ - line_start_ > kMaxLine) malformed();
        return take;
      }
      std::string_view line = line_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (state_ == State::kInline) {
        on_inline(line);
      } else {
        on_line(line, ts);
      }
      return take;
    }
    case State::kBulk: {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(bulk_left_, bytes.size()));
      if (line_cut_ == false && line_.size() < kMaxHeadBytes) {  // capturing this string
        line_.append(bytes.substr(0, std::min(take, kMaxHeadBytes - line_.size())));
      }
      bulk_left_ -= take;
      pos_ += take;
      if (bulk_left_ == 0) {
        state_ = State::kBulkEnd;
        crlf_have_ = 0;
      }
      return take;
    }
    case State::kBulkEnd: {
      const char want = crlf_have_ == 0 ? '\r' : '\n';
      if (bytes[0] != want) {
        malformed();
        return 0;
      }
      pos_ += 1;
      if (++crlf_have_ == 2) {
        if (!line_cut_) {
          if (type_ == '!') cur_.error = line_.substr(0, kMaxErrorBytes);
          else keep_string(line_);
        }
        element_done(ts);
      }
      return 1;
    }
    case State::kLost:
      break;
  }
  return bytes.size();
}

void Reader::on_line(std::string_view line, uint64_t ts) {
  if (bulk(type_)) {
    int64_t n = 0;
    if (!parse_length(line, n) || n > static_cast<int64_t>(kMaxBulk)) return malformed();
    if (n < 0) return element_done(ts);
    bulk_left_ = static_cast<uint64_t>(n);
    // Keep the string only where spans need it (line_cut_ marks "do not keep").
    line_cut_ = !(wants_head() || type_ == '!');
    line_.clear();
    state_ = bulk_left_ == 0 ? State::kBulkEnd : State::kBulk;
    crlf_have_ = 0;
    return;
  }
  if (aggregate(type_)) {
    int64_t n = 0;
    if (!parse_length(line, n) || n > kMaxElements) return malformed();
    if (stack_.empty() && type_ != '|') cur_.elements = n;
    if (n <= 0) return element_done(ts);
    if (stack_.size() >= kMaxDepth) return malformed();
    const bool pairs = type_ == '%' || type_ == '|';
    stack_.push_back({pairs ? n * 2 : n, type_ == '|'});
    state_ = State::kType;
    return;
  }
  if (type_ == '-') {
    if (cur_.error.empty()) cur_.error = std::string(line.substr(0, kMaxErrorBytes));
  } else if (type_ == '+' && (stack_.empty() || wants_head())) {
    keep_string(line);
  } else if ((type_ == ':' || type_ == '(') && line.empty()) {
    return malformed();
  }
  element_done(ts);
}

// An inline command: words separated by spaces (redis-cli's telnet-style form).
void Reader::on_inline(std::string_view line) {
  const std::vector<std::string_view> words = split_fields(line, " \t");
  if (words.empty()) {  // an empty line is ignored by the server too
    in_value_ = false;
    state_ = State::kType;
    return;
  }
  cur_.elements = static_cast<int64_t>(words.size());
  keep_string(words[0]);
  if (words.size() > 1 && (iequals(words[0], "SELECT") || iequals(words[0], "CLIENT"))) keep_string(words[1]);
  if (words.size() > 2 && iequals(words[0], "CLIENT") && iequals(words[1], "REPLY")) keep_string(words[2]);
  state_ = State::kType;
  finish_value();
}

// An element ended: close the aggregates it completes, and the value when
// nothing is open. An attribute ('|') is a prefix, not an element of its parent.
void Reader::element_done(uint64_t ts) {
  cur_.last_ts = std::max(cur_.last_ts, ts);
  state_ = State::kType;
  while (!stack_.empty()) {
    Open& top = stack_.back();
    if (--top.left > 0) return;
    const bool attribute = top.attribute;
    stack_.pop_back();
    if (attribute) return;
  }
  finish_value();
}

void Reader::finish_value() {
  cur_.bytes = pos_ - cur_.offset;
  in_value_ = false;
  state_ = State::kType;
  stats_.values++;
  if (done_.size() >= kMaxQueued) done_.pop_front();
  done_.push_back(std::move(cur_));
  cur_ = Value{};
}

}  // namespace spanwire::redis
