#include "http1/parser.h"

#include <algorithm>
#include <utility>

#include "common/hex.h"
#include "common/text.h"
#include "http1/counters.h"

namespace spanwire::http1 {
namespace {

constexpr size_t npos = std::string_view::npos;

std::string_view without_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// A Content-Length or chunk-size digit string: at most 19 digits, which
// always fit in 64 bits (a 20-digit length is no real body).
bool parse_decimal(std::string_view s, uint64_t& out) { return s.size() <= 19 && parse_whole(s, out); }

// Calls f(element) for each comma-separated element, trimmed; stops early if f fails.
template <typename F>
bool for_each_element(std::string_view list, F&& f) {
  for (;;) {
    size_t comma = list.find(',');
    if (!f(trim_optional_whitespace(list.substr(0, comma)))) return false;
    if (comma == npos) return true;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

// One field line (no line end, not empty) located within `head`: "name: value",
// or an obs-fold continuation (leading whitespace) when a previous field
// exists; nullopt if it is neither. Whitespace before the colon is invalid
// (RFC 9112 5.1) but tolerated: a tracer describes what peers exchanged, it
// does not police them.
std::optional<Parser::FieldLine> Parser::field_line(std::string_view head, std::string_view line,
                                                    bool has_previous_field) {
  auto offset = [head](std::string_view part) { return static_cast<uint32_t>(part.data() - head.data()); };
  if (is_optional_whitespace(line.front())) {
    if (!has_previous_field) return std::nullopt;
    const std::string_view more = trim_optional_whitespace(line);
    return FieldLine{offset(line), offset(line), offset(more), static_cast<uint32_t>(more.size())};
  }
  size_t end = 0;
  while (end < line.size() && is_tchar(line[end])) ++end;
  size_t colon = end;
  while (colon < line.size() && is_optional_whitespace(line[colon])) ++colon;
  if (end == 0 || colon == line.size() || line[colon] != ':') return std::nullopt;
  const std::string_view value = trim_optional_whitespace(line.substr(colon + 1));
  return FieldLine{offset(line), offset(line) + static_cast<uint32_t>(end), offset(value),
                   static_cast<uint32_t>(value.size())};
}

// The field lines recorded as they completed, as headers (obs-folds joined
// to the previous value with one SP).
void Parser::collect_fields(std::vector<Header>& out) const {
  out.reserve(out.size() + lines_.size());
  const std::string_view head = head_;
  for (const FieldLine& f : lines_) {
    const std::string_view value = head.substr(f.value_begin, f.value_size);
    if (f.name_end == f.name_begin) {  // obs-fold
      if (!out.empty() && !value.empty()) out.back().value.append(" ").append(value);
      continue;
    }
    out.push_back({std::string(head.substr(f.name_begin, f.name_end - f.name_begin)), std::string(value)});
  }
}

namespace {

// Splits a start line already validated by StartLineScanner (no line end).
void parse_start_line(std::string_view line, Kind kind, Message& m) {
  m.version_minor = kind == Kind::kRequest ? line.back() - '0' : line[7] - '0';
  if (kind == Kind::kRequest) {
    size_t first_sp = line.find(' ');
    size_t last_sp = line.rfind(' ');
    m.method = line.substr(0, first_sp);
    m.target = line.substr(first_sp + 1, last_sp - first_sp - 1);
    return;
  }
  // "HTTP/1.x NNN[ reason]"
  m.status_code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (line.size() > 13) m.reason = line.substr(13);
}

}  // namespace

bool list_contains(std::string_view list, std::string_view token) {
  // for_each_element stops when its callback returns false: "not found yet" is true.
  return !for_each_element(list, [token](std::string_view element) { return !iequals(element, token); });
}

// What the header fields say about the body.
struct Parser::Framing {
  bool has_length = false;
  uint64_t length = 0;
  bool has_transfer_encoding = false;
  bool chunked = false;  // "chunked" is the final transfer coding
  bool upgrade = false;  // an Upgrade field is present
};

// False on an invalid or conflicting Content-Length (repeats of one value are allowed,
// RFC 9110 8.6). Transfer-Encoding overrides Content-Length (RFC 9112 6.3).
bool Parser::read_framing(const std::vector<Header>& headers, Framing& f) {
  for (const Header& h : headers) {
    if (iequals(h.name, "content-length")) {
      bool ok = for_each_element(h.value, [&f](std::string_view element) {
        uint64_t n = 0;
        if (!parse_decimal(element, n) || (f.has_length && n != f.length)) return false;
        f.has_length = true;
        f.length = n;
        return true;
      });
      if (!ok) return false;
    } else if (iequals(h.name, "transfer-encoding")) {
      f.has_transfer_encoding = true;
      for_each_element(h.value, [&f](std::string_view coding) {
        if (!coding.empty()) f.chunked = iequals(coding, "chunked");
        return true;
      });
    } else if (iequals(h.name, "upgrade")) {
      f.upgrade = true;
    }
  }
  return true;
}

Parser::Parser(Kind kind, Limits limits) : kind_(kind), limits_(limits), scanner_(kind) {}

void Parser::attach_counters(ProtocolCounters& c) {
  stats_.messages.attach(c.slot(counter::messages));
  stats_.resyncs.attach(c.slot(counter::resyncs));
  stats_.errors.attach(c.slot(counter::parse_errors));
  stats_.skipped_bytes.attach(c.slot(counter::unparsed_bytes));
  stats_.heads_cut.attach(c.slot(counter::heads_truncated));
  stats_.framing_invalid.attach(c.slot(counter::framing_invalid));
}

void Parser::feed(std::string_view data, uint64_t ts) {
  if (feeds_may_begin_messages_) begin_at_feed_start();
  while (!data.empty()) {
    size_t used = 0;
    switch (state_) {
      case State::kIdle: used = on_idle(data, ts); break;
      case State::kResync: used = on_resync(data, ts); break;
      case State::kStartLine: used = on_start_line(data); break;
      case State::kHeaders:
      case State::kTrailers: used = on_field_lines(data, ts); break;
      case State::kBodyLength:
      case State::kBodyUntilClose:
      case State::kChunkData: used = on_body(data, ts); break;
      case State::kChunkSize:
      case State::kChunkExtension:
      case State::kChunkSizeLf:
      case State::kChunkDataCr:
      case State::kChunkDataLf: used = on_chunk_framing(data, ts); break;
      case State::kHeldForUpgrade: used = on_held(data, ts); break;
      case State::kUpgraded: used = on_upgraded(data, ts); break;
      case State::kClosed: used = data.size(); break;
    }
    position_ += used;
    data.remove_prefix(used);
  }
}

void Parser::gap(uint64_t n, uint64_t ts) {
  while (n > 0) {
    switch (state_) {
      case State::kUpgraded:
        if (keep_after_upgrade_) upgraded_bytes_.push_back({{}, n, ts});
        position_ += n;
        return;
      case State::kClosed:
        position_ += n;
        return;
      case State::kHeldForUpgrade:
        hold_gap(n, ts);
        position_ += n;
        return;
      case State::kResync:
        at_line_start_ = true;  // the first byte after a gap may begin a message
        position_ += n;
        return;
      case State::kBodyUntilClose:
        message_.body_bytes += n;
        message_.body_had_gap = true;
        message_.last_ts = ts;
        position_ += n;
        return;
      case State::kBodyLength:
      case State::kChunkData:
        // Body bytes of known length are only counted, so missing ones can be counted
        // too (sendfile bodies and capped copies arrive as gaps). A Content-Length gap
        // running past the end completes the message; the rest is handled below.
        if (n <= remaining_ || state_ == State::kBodyLength) {
          uint64_t covered = std::min(n, remaining_);
          message_.body_bytes += covered;
          message_.body_had_gap = true;
          message_.last_ts = ts;
          remaining_ -= covered;
          position_ += covered;
          n -= covered;
          if (remaining_ == 0) {
            if (state_ == State::kChunkData) state_ = State::kChunkDataCr;
            else complete_message();
          }
          continue;
        }
        // The gap swallows chunk framing, which cannot be reconstructed.
        message_.body_bytes += remaining_;
        message_.body_had_gap = true;
        message_.last_ts = ts;
        lose_sync(true, false);
        continue;
      case State::kHeaders:
        if (!candidate_resyncing_) {  // the start line and the fields so far are certain
          cut_head(ts, true);
          continue;
        }
        lose_sync(true, false);
        continue;
      default:  // in a start line, chunk framing, trailers or between messages
        lose_sync(true, false);
        continue;
    }
  }
}

void Parser::close(uint64_t /*ts: the close carries no byte, so no timestamp changes*/) {
  if (state_ != State::kUpgraded) end_stream(State::kClosed);
}

void Parser::upgrade() {
  if (state_ == State::kHeldForUpgrade && keep_after_upgrade_) {
    // The held input is the new protocol's first bytes.
    for (StreamPiece& piece : held_) upgraded_bytes_.push_back(std::move(piece));
    held_.clear();
    held_bytes_ = 0;
  }
  if (state_ != State::kClosed) end_stream(State::kUpgraded);
}

void Parser::resume() {
  if (state_ != State::kHeldForUpgrade) return;
  state_ = State::kIdle;
  std::vector<StreamPiece> spans = std::exchange(held_, {});
  held_bytes_ = 0;
  if (!spans.empty()) position_ = held_from_;  // replaying advances it back to where it was
  for (const StreamPiece& span : spans) {
    if (span.bytes.empty()) gap(span.gap, span.ts);
    else feed(span.bytes, span.ts);
  }
}

void Parser::expect_response_to(std::string_view method) { expect_response_to(method, 0); }

void Parser::expect_response_to(std::string_view method, uint64_t request_ts) {
  expected_methods_.push_back({std::string(method), request_ts});
}

std::vector<Message> Parser::take_messages() { return std::exchange(done_, {}); }

void Parser::start_midstream() {
  if (state_ != State::kClosed && state_ != State::kUpgraded) lose_sync(true, false);
}

// --- state handlers ---

size_t Parser::on_idle(std::string_view data, uint64_t ts) {
  // Empty lines before a start line are tolerated (RFC 9112 2.2): some clients send
  // an extra CRLF after a body.
  size_t i = 0;
  while (i < data.size() && (data[i] == '\r' || data[i] == '\n')) ++i;
  if (i > 0) return i;
  begin_candidate(ts, /*resyncing=*/false);
  return 0;
}

size_t Parser::on_resync(std::string_view data, uint64_t ts) {
  if (at_line_start_) {
    begin_candidate(ts, /*resyncing=*/true);
    return 0;
  }
  // Mid-line: nothing can start before the next line end.
  size_t lf = data.find('\n');
  size_t used = lf == npos ? data.size() : lf + 1;
  at_line_start_ = lf != npos;
  stats_.skipped_bytes += used;
  return used;
}

size_t Parser::on_start_line(std::string_view data) {
  size_t budget = limits_.max_header_bytes - head_.size();
  for (size_t i = 0; i < data.size(); ++i) {
    if (i == budget) {  // the start line alone exceeds the head limit
      head_.append(data.substr(0, i));
      reject_candidate(false);
      return i;
    }
    switch (scanner_.push(data[i])) {
      case StartLineScanner::Verdict::kMore:
        continue;
      case StartLineScanner::Verdict::kReject:
        head_.append(data.substr(0, i + 1));
        reject_candidate(data[i] == '\n');
        return i + 1;
      case StartLineScanner::Verdict::kAccept:
        head_.append(data.substr(0, i + 1));
        state_ = State::kHeaders;
        fields_begin_ = line_begin_ = head_.size();
        lines_.clear();
        return i + 1;
    }
  }
  head_.append(data);
  return data.size();
}

size_t Parser::on_field_lines(std::string_view data, uint64_t ts) {
  const bool trailers = state_ == State::kTrailers;
  size_t lf = data.find('\n');
  size_t take = lf == npos ? data.size() : lf + 1;
  if (trailers) message_.last_ts = ts;
  if (head_.size() + take > limits_.max_header_bytes) {
    // Never buffer past the limit: account the bytes as skipped and resynchronise,
    // after reporting what is certain of a head that began in sync.
    stats_.skipped_bytes += take;
    if (trailers) lose_sync(lf != npos, true);
    else if (!candidate_resyncing_) cut_head(ts, lf != npos);
    else reject_candidate(lf != npos);
    return take;
  }
  head_.append(data.substr(0, take));
  if (lf == npos) return take;

  std::string_view line = head_;
  line = without_cr(line.substr(line_begin_, head_.size() - 1 - line_begin_));
  if (line.empty()) {
    if (trailers) on_trailers_complete();
    else on_head_complete(ts);
  } else if (std::optional<FieldLine> f = field_line(head_, line, line_begin_ > fields_begin_)) {
    lines_.push_back(*f);  // located once: the head is never scanned again
    line_begin_ = head_.size();
  } else {
    // Judged per line so that, while resynchronising, a false candidate is dropped
    // before it can swallow a real start line further down.
    if (trailers) lose_sync(true, true);
    else reject_candidate(true);
  }
  return take;
}

bool Parser::skip_body(uint64_t n, uint64_t ts) {
  if (state_ != State::kBodyLength || n > remaining_) return false;
  message_.body_bytes += n;
  message_.last_ts = ts;
  remaining_ -= n;
  position_ += n;
  if (remaining_ == 0) complete_message();
  return true;
}

size_t Parser::on_body(std::string_view data, uint64_t ts) {
  message_.last_ts = ts;
  if (state_ == State::kBodyUntilClose) {
    message_.body_bytes += data.size();
    return data.size();
  }
  // remaining_ > 0 in these states, so this always makes progress.
  size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
  message_.body_bytes += n;
  remaining_ -= n;
  if (remaining_ == 0) {
    if (state_ == State::kChunkData) state_ = State::kChunkDataCr;
    else complete_message();
  }
  return n;
}

size_t Parser::on_chunk_framing(std::string_view data, uint64_t ts) {
  message_.last_ts = ts;
  auto fail = [this](size_t i, char c) {
    lose_sync(c == '\n', true);
    return i + 1;
  };
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    switch (state_) {
      case State::kChunkSize: {
        if (int v = hex_value(c); v >= 0) {
          if (chunk_size_ >> 60) return fail(i, c);  // would overflow 64 bits
          chunk_size_ = chunk_size_ * 16 + static_cast<uint64_t>(v);
          ++chunk_digits_;
        } else if (chunk_digits_ == 0) {
          return fail(i, c);
        } else if (c == ';' || is_optional_whitespace(c)) {
          state_ = State::kChunkExtension;
        } else if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (c == '\n') {
          end_chunk_size_line();
          return i + 1;
        } else {
          return fail(i, c);
        }
        break;
      }
      case State::kChunkExtension: {
        // Extensions carry nothing we report: skip them, bounding only their length.
        size_t lf = data.find('\n', i);
        size_t end = lf == npos ? data.size() : lf;
        const size_t room = limits_.max_header_bytes - chunk_line_bytes_;
        if (end - i > room) {  // trips at the same byte however the input is cut
          lose_sync(false, true);
          return i + room;
        }
        chunk_line_bytes_ += end - i;
        if (lf == npos) return data.size();
        end_chunk_size_line();
        return lf + 1;
      }
      case State::kChunkSizeLf:
        if (c != '\n') return fail(i, c);
        end_chunk_size_line();
        return i + 1;
      case State::kChunkDataCr:
        if (c == '\r') {
          state_ = State::kChunkDataLf;
          break;
        }
        [[fallthrough]];  // a bare LF also ends the chunk
      case State::kChunkDataLf:
        if (c != '\n') return fail(i, c);
        state_ = State::kChunkSize;
        return i + 1;
      default:
        return i;
    }
  }
  return data.size();
}

size_t Parser::on_held(std::string_view data, uint64_t ts) {
  if (held_.empty()) held_from_ = position_;
  size_t keep = std::min(limits_.max_header_bytes - held_bytes_, data.size());
  if (keep > 0) {
    if (!held_.empty() && !held_.back().bytes.empty() && held_.back().ts == ts) {
      held_.back().bytes.append(data.substr(0, keep));
    } else {
      held_.push_back({std::string(data.substr(0, keep)), 0, ts});
    }
    held_bytes_ += keep;
  }
  // Past the bound the bytes are dropped; replaying them as a gap forces a resync.
  if (keep < data.size()) hold_gap(data.size() - keep, ts);
  return data.size();
}

size_t Parser::on_upgraded(std::string_view data, uint64_t ts) {
  if (keep_after_upgrade_) upgraded_bytes_.push_back({std::string(data), 0, ts});
  return data.size();
}

void Parser::hold_gap(uint64_t n, uint64_t ts) {
  if (held_.empty()) held_from_ = position_;
  if (!held_.empty() && held_.back().bytes.empty()) {
    held_.back().gap += n;
    held_.back().ts = ts;
  } else {
    held_.push_back({{}, n, ts});
  }
}

uint64_t Parser::unreported_from() const {
  switch (state_) {
    case State::kStartLine:
    case State::kHeaders: return candidate_offset_;
    case State::kHeldForUpgrade: return held_from_;
    default: return position_;
  }
}

// --- transitions ---

// While resynchronising, a new write is a better message start than the
// unfinished start line of a candidate found in the previous one: a body's
// last bytes followed by "GET /x HTTP/1.1" form a valid-looking request line.
void Parser::begin_at_feed_start() {
  if (state_ == State::kStartLine && candidate_resyncing_) {
    stats_.skipped_bytes += head_.size();
    head_.clear();
    state_ = State::kResync;
  }
  if (state_ == State::kResync) at_line_start_ = true;
}

void Parser::begin_candidate(uint64_t ts, bool resyncing) {
  state_ = State::kStartLine;
  scanner_.reset();
  candidate_resyncing_ = resyncing;
  candidate_offset_ = position_;
  candidate_ts_ = ts;
  head_.clear();
}

void Parser::reject_candidate(bool at_line_start) {
  if (!candidate_resyncing_) {
    lose_sync(at_line_start, true);
    return;
  }
  // A false lead while resynchronising is not a protocol error: keep scanning.
  stats_.skipped_bytes += head_.size();
  head_.clear();
  state_ = State::kResync;
  at_line_start_ = at_line_start;
}

// The head parsed so far: the start line and the field lines completed (all of
// them once the empty line has come), every field kept.
Message Parser::head_so_far(uint64_t ts) const {
  Message m;
  m.kind = kind_;
  std::string_view head = head_;
  size_t first_lf = head.find('\n');
  parse_start_line(without_cr(head.substr(0, first_lf)), kind_, m);
  collect_fields(m.headers);
  m.header_bytes = line_begin_;  // complete lines only: the same however the input was cut
  m.stream_offset = candidate_offset_;
  m.first_ts = candidate_ts_;
  m.last_ts = ts;
  return m;
}

// `m` becomes the message in progress.
void Parser::adopt_head(Message m) {
  if (m.headers.size() > limits_.max_headers) {
    m.headers.resize(limits_.max_headers);
    m.headers_truncated = true;
  }
  m.after_resync = std::exchange(lost_sync_, false);
  head_.clear();
  message_ = std::move(m);
  has_message_ = true;
  candidate_resyncing_ = false;
}

void Parser::on_head_complete(uint64_t ts) {
  line_begin_ = head_.size();  // the empty line ends the field lines
  Message m = head_so_far(ts);
  Framing f;
  bool ok = read_framing(m.headers, f);
  // A request whose final coding is not chunked has no determinable length (RFC 9112 6.3).
  if (kind_ == Kind::kRequest && f.has_transfer_encoding && !f.chunked) ok = false;
  if (!ok && candidate_resyncing_) {  // while resynchronising: a false lead
    reject_candidate(true);
    return;
  }
  adopt_head(std::move(m));
  if (!ok) {
    // In sync the head is certain, but its body cannot be framed (RFC 9112 6.3: an
    // invalid Content-Length is an unrecoverable error): report the head, then look
    // for the next message. Request smuggling looks exactly like this.
    message_.framing_invalid = true;
    ++stats_.framing_invalid;
    if (kind_ == Kind::kResponse) take_expected_method();  // it answered a request
    lose_sync(true, true);
    return;
  }
  begin_body(f);
}

// A head that began in sync was cut short: longer than the limit, or bytes of it
// were lost. Its start line and the fields before the cut are reported (flagged);
// the rest of the head and the body cannot be framed, so sync is lost after it.
void Parser::cut_head(uint64_t ts, bool at_line_start) {
  report_cut_head(ts);
  lose_sync(at_line_start, false);
}

// The head in kHeaders becomes the message in progress, flagged as cut.
void Parser::report_cut_head(uint64_t ts) {
  Message m = head_so_far(ts);
  m.head_cut = true;
  stats_.skipped_bytes += head_.size() - line_begin_;  // the unfinished field line
  adopt_head(std::move(m));
  ++stats_.heads_cut;
  if (kind_ == Kind::kResponse) take_expected_method();  // it answered a request
}

void Parser::begin_body(const Framing& f) {
  after_ = After::kNextMessage;
  auto start_chunked = [this] {
    message_.chunked = true;
    state_ = State::kChunkSize;
  };
  auto start_length = [this](uint64_t n) {
    if (n == 0) return complete_message();
    remaining_ = n;
    state_ = State::kBodyLength;
  };

  if (kind_ == Kind::kRequest) {
    if (hold_after_upgrade_ && (message_.method == "CONNECT" || f.upgrade)) {
      after_ = After::kHoldForUpgrade;
    }
    if (f.chunked) return start_chunked();
    return start_length(f.has_length ? f.length : 0);  // no framing: no body
  }

  const int status = message_.status_code;
  // Interim responses precede the final response to the same request.
  if (is_interim_status(status)) return complete_message();
  const std::string method = take_expected_method();
  if (switches_protocols(method, status)) {
    after_ = After::kUpgrade;  // the stream carries another protocol from here on
    return complete_message();
  }
  if (method == "HEAD" || status == 204 || status == 304) return complete_message();
  if (f.chunked) return start_chunked();
  if (f.has_length && !f.has_transfer_encoding) return start_length(f.length);
  state_ = State::kBodyUntilClose;  // no framing, or a non-chunked transfer coding
}

// Method of the request the final response in message_ answers ("" if unknown).
std::string Parser::take_expected_method() {
  const uint64_t ts = message_.first_ts;
  if (expected_methods_.empty()) return {};
  if (!message_.after_resync && expected_methods_.front().request_ts <= ts) {  // common case
    std::string method = std::move(expected_methods_.front().method);
    expected_methods_.pop_front();
    return method;
  }
  auto latest = expected_methods_.end();
  for (auto it = expected_methods_.begin(); it != expected_methods_.end(); ++it) {
    if (it->request_ts <= ts) latest = it;
  }
  if (latest == expected_methods_.end()) return {};  // older than every queued request
  // In sync, responses come in request order; after a loss the latest plausible wins.
  auto answered = message_.after_resync ? latest : expected_methods_.begin();
  std::string method = std::move(answered->method);
  expected_methods_.erase(expected_methods_.begin(), answered + 1);
  return method;
}

void Parser::end_chunk_size_line() {
  if (chunk_size_ == 0) {
    state_ = State::kTrailers;
    head_.clear();
    fields_begin_ = line_begin_ = 0;
    lines_.clear();
  } else {
    state_ = State::kChunkData;
    remaining_ = chunk_size_;
  }
  chunk_size_ = 0;
  chunk_digits_ = 0;
  chunk_line_bytes_ = 0;
}

void Parser::on_trailers_complete() {
  collect_fields(message_.trailers);
  if (message_.trailers.size() > limits_.max_headers) {
    message_.trailers.resize(limits_.max_headers);
    message_.headers_truncated = true;
  }
  head_.clear();
  complete_message();
}

void Parser::complete_message() {
  const After after = after_;
  after_ = After::kNextMessage;
  emit(true);
  switch (after) {
    case After::kNextMessage: state_ = State::kIdle; break;
    case After::kUpgrade: state_ = State::kUpgraded; break;
    case After::kHoldForUpgrade: state_ = State::kHeldForUpgrade; break;
  }
}

void Parser::emit(bool complete) {
  message_.complete = complete;
  done_.push_back(std::move(message_));
  message_ = Message{};
  has_message_ = false;
  ++stats_.messages;
}

void Parser::lose_sync(bool at_line_start, bool is_error) {
  if (is_error) ++stats_.errors;
  const bool was_resyncing =
      state_ == State::kResync ||
      ((state_ == State::kStartLine || state_ == State::kHeaders) && candidate_resyncing_);
  if (!was_resyncing) ++stats_.resyncs;
  if (has_message_) emit(false);  // a parsed head is worth reporting, even cut short
  lost_sync_ = true;
  stats_.skipped_bytes += head_.size() + held_bytes_;
  head_.clear();
  held_.clear();
  held_bytes_ = 0;
  after_ = After::kNextMessage;
  chunk_size_ = 0;
  chunk_digits_ = 0;
  chunk_line_bytes_ = 0;
  state_ = State::kResync;
  at_line_start_ = at_line_start;
}

void Parser::end_stream(State final_state) {
  switch (state_) {
    case State::kBodyUntilClose:
      emit(true);  // the end of the stream is this body's delimiter
      break;
    case State::kHeldForUpgrade:
      stats_.skipped_bytes += held_bytes_;
      break;
    case State::kHeaders:
      // The stream closed inside a head that began in sync (a server that answers an
      // oversized head with 400 and closes): its start line is certain.
      if (final_state == State::kClosed && !candidate_resyncing_) {
        report_cut_head(candidate_ts_);
        emit(false);
        break;
      }
      stats_.skipped_bytes += head_.size();
      break;
    default:
      if (has_message_) emit(false);
      stats_.skipped_bytes += head_.size();
      break;
  }
  head_.clear();
  held_.clear();
  held_bytes_ = 0;
  state_ = final_state;
}

}  // namespace spanwire::http1
