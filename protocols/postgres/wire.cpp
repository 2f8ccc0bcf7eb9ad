#include "postgres/wire.h"

#include <algorithm>
#include <utility>

namespace spanwire::postgres {
namespace {

constexpr size_t kMaxQueued = 4096;
constexpr uint32_t kSslRequestCode = 80877103, kGssEncRequestCode = 80877104;

uint32_t be32(const unsigned char* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// Message types each side sends in protocol 3.0.
bool frontend_type(char t) {
  switch (t) {
    case 'Q': case 'P': case 'B': case 'E': case 'D': case 'C': case 'S': case 'H': case 'X':
    case 'F': case 'd': case 'c': case 'f': case 'p':
      return true;
    default:
      return false;
  }
}

bool backend_type(char t) {
  switch (t) {
    case 'R': case 'S': case 'K': case 'Z': case 'T': case 'D': case 'C': case 'E': case 'N': case 'A':
    case '1': case '2': case '3': case 'n': case 's': case 't': case 'I': case 'G': case 'H': case 'W':
    case 'd': case 'c': case 'V': case 'v':
      return true;
    default:
      return false;
  }
}

}  // namespace

// How much of a body is kept: what spans need, never authentication data,
// row data or COPY data.
size_t Reader::keep_limit(char type) const {
  if (side_ == Side::kFrontend) {
    switch (type) {
      case 0: return 1024;                // startup: user, database (never a password)
      case 'Q': case 'P': return kMaxSql;  // the SQL (Parse: after the statement name)
      case 'B': case 'E': case 'C': case 'D': return 256;  // portal and statement names lead
      default: return 0;                  // 'p' (password, SASL), 'd' (COPY data), ...
    }
  }
  switch (type) {
    case 'C': return 64;    // the command tag
    case 'E': return 1024;  // the fields: severity, SQLSTATE (the message is never exported)
    case 'Z': return 1;     // transaction status
    case 'R': return 4;     // the authentication request's kind, nothing of its data
    case 'S': return 128;   // ParameterStatus: server_version
    default: return 0;
  }
}

void Reader::feed(std::string_view bytes, uint64_t ts) {
  while (!bytes.empty()) {
    size_t used = 0;
    switch (state_) {
      case State::kHeader: used = read_header(bytes, ts); break;
      case State::kBody: used = read_body(bytes); break;
      case State::kLost: used = read_lost(bytes); break;
    }
    if (state_ != State::kLost) cur_.last_ts = std::max(cur_.last_ts, ts);
    bytes.remove_prefix(used);
  }
}

size_t Reader::read_header(std::string_view bytes, uint64_t ts) {
  if (header_have_ == 0) {
    cur_ = Message{};
    cur_.offset = pos_;
    cur_.first_ts = cur_.last_ts = ts;
    cur_.losses_before = stats_.resyncs;
    if (single_byte_next_) {  // 'S', 'N' or 'G': no length follows
      single_byte_next_ = false;
      cur_.type = 1;
      cur_.body.assign(1, bytes[0]);
      pos_ += 1;
      finish();
      return 1;
    }
    header_size_ = untyped_next_ ? 4 : 5;
  }
  const size_t take = std::min(bytes.size(), header_size_ - header_have_);
  std::copy_n(bytes.data(), take, header_ + header_have_);
  header_have_ += take;
  pos_ += take;
  if (header_have_ < header_size_) return take;
  const bool untyped = header_size_ == 4;
  cur_.type = untyped ? 0 : static_cast<char>(header_[0]);
  const uint32_t length = be32(header_ + (untyped ? 0 : 1));
  header_have_ = 0;
  untyped_next_ = false;
  const bool known = untyped || (side_ == Side::kFrontend ? frontend_type(cur_.type) : backend_type(cur_.type));
  if (!known || length < 4 || length > kMaxLength) {
    stats_.errors++;
    lose_sync();
    return take;
  }
  cur_.length = length - 4;
  body_left_ = cur_.length;
  state_ = State::kBody;
  if (body_left_ == 0) finish();
  return take;
}

size_t Reader::read_body(std::string_view bytes) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, bytes.size()));
  const size_t limit = keep_limit(cur_.type);
  if (cur_.body.size() < limit) cur_.body.append(bytes.substr(0, std::min(take, limit - cur_.body.size())));
  body_left_ -= take;
  pos_ += take;
  if (body_left_ == 0) finish();
  return take;
}

void Reader::finish() {
  cur_.body_cut = cur_.body_cut || cur_.body.size() < cur_.length;
  // An SSLRequest or GSSENCRequest answered 'N' is followed by an untyped
  // StartupMessage (answered 'S', the session stops feeding this reader).
  if (cur_.type == 0 && cur_.body.size() >= 4) {
    const uint32_t code = be32(reinterpret_cast<const unsigned char*>(cur_.body.data()));
    if (code == kSslRequestCode || code == kGssEncRequestCode) untyped_next_ = true;
  }
  state_ = State::kHeader;
  stats_.messages++;
  if (done_.size() >= kMaxQueued) done_.pop_front();
  done_.push_back(std::move(cur_));
  cur_ = Message{};
}

void Reader::gap(uint64_t n, uint64_t ts) {
  if (n == 0) return;
  if (state_ == State::kBody && n <= body_left_) {
    body_left_ -= n;
    pos_ += n;
    cur_.body_cut = true;
    cur_.last_ts = std::max(cur_.last_ts, ts);
    if (body_left_ == 0) finish();
    return;
  }
  if (state_ != State::kLost) lose_sync();
  pos_ += n;
}

void Reader::lose_sync() {
  stats_.resyncs++;
  state_ = State::kLost;
  header_have_ = 0;
  untyped_next_ = single_byte_next_ = false;
  cur_ = Message{};
}

void Reader::resume_at(uint64_t offset) {
  if (state_ == State::kLost && offset >= pos_) resume_ = offset;
}

// A message start the frontend could have written: a known type, a sane
// length, and for a query the start of SQL.
bool Reader::plausible_start(std::string_view b) const {
  if (b.size() < 5 || !frontend_type(b[0])) return false;
  const uint32_t length = be32(reinterpret_cast<const unsigned char*>(b.data() + 1));
  if (length < 4 || length > (1U << 24)) return false;
  return (b[0] != 'S' && b[0] != 'H') || length == 4;
}

// Out of sync. The frontend looks for a message at the start of a write
// (clients write whole messages); the backend waits for the offset the
// session names (where the reply to a resynchronised request begins).
size_t Reader::read_lost(std::string_view bytes) {
  size_t skip = bytes.size();
  if (resume_ >= pos_ && resume_ < pos_ + bytes.size()) {
    skip = static_cast<size_t>(resume_ - pos_);
    resume_ = UINT64_MAX;
  } else if (side_ == Side::kFrontend && resume_ == UINT64_MAX && plausible_start(bytes)) {
    skip = 0;
  }
  stats_.skipped_bytes += skip;
  pos_ += skip;
  if (skip < bytes.size()) state_ = State::kHeader;
  return skip;
}

std::deque<Message> Reader::take() { return std::exchange(done_, {}); }

}  // namespace spanwire::postgres
