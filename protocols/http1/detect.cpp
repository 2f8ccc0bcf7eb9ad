#include "http1/detect.h"

namespace spanwire::http1 {
namespace {

constexpr std::string_view kVersionPrefix = "HTTP/1.";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Visible ASCII or obs-text: what a request target may contain (some clients send raw UTF-8).
bool is_target_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

// HTAB, SP, VCHAR, obs-text (RFC 9112 reason-phrase).
bool is_reason_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

LineMatch match_line(Kind kind, std::string_view data) {
  if (data.empty()) return LineMatch::kNo;
  StartLineScanner scanner(kind);
  for (char c : data) {
    switch (scanner.push(c)) {
      case StartLineScanner::Verdict::kMore: break;
      case StartLineScanner::Verdict::kAccept: return LineMatch::kYes;
      case StartLineScanner::Verdict::kReject: return LineMatch::kNo;
    }
  }
  return LineMatch::kPrefix;
}

bool looks_like_line(Kind kind, std::string_view data) {
  switch (match_line(kind, data)) {
    case LineMatch::kYes: return true;
    case LineMatch::kNo: return false;
    case LineMatch::kPrefix: break;
  }
  // No LF in `data`: judge it as if it were terminated here.
  StartLineScanner scanner(kind);
  for (char c : data) scanner.push(c);
  return scanner.push('\n') == StartLineScanner::Verdict::kAccept;
}

}  // namespace

void StartLineScanner::reset() {
  step_ = kind_ == Kind::kRequest ? Step::kMethod : Step::kVersion;
  count_ = 0;
}

StartLineScanner::Verdict StartLineScanner::push(char c) {
  constexpr Verdict kMore = Verdict::kMore, kReject = Verdict::kReject;
  auto next = [this](Step step) {
    step_ = step;
    count_ = 0;
    return Verdict::kMore;
  };
  switch (step_) {
    case Step::kMethod:
      if (is_tchar(c)) return ++count_ <= kMaxMethodLength ? kMore : kReject;
      return (c == ' ' && count_ > 0) ? next(Step::kTarget) : kReject;
    case Step::kTarget:
      if (is_target_char(c)) return ++count_, kMore;
      return (c == ' ' && count_ > 0) ? next(Step::kVersion) : kReject;
    case Step::kVersion:
      if (c != kVersionPrefix[static_cast<size_t>(count_)]) return kReject;
      return ++count_ == static_cast<int>(kVersionPrefix.size()) ? next(Step::kMinor) : kMore;
    case Step::kMinor:
      if (c != '0' && c != '1') return kReject;
      return next(kind_ == Kind::kRequest ? Step::kRequestLineEnd : Step::kStatusSpace);
    case Step::kStatusSpace:
      return c == ' ' ? next(Step::kStatus) : kReject;
    case Step::kStatus:
      // 3DIGIT; a leading 0 never occurs in practice and only invites false matches.
      if (!is_digit(c) || (count_ == 0 && c == '0')) return kReject;
      return ++count_ == 3 ? next(Step::kAfterStatus) : kMore;
    case Step::kAfterStatus:
      // The reason phrase may be absent altogether ("HTTP/1.1 200\r\n"), seen in the wild.
      if (c == ' ') return next(Step::kReason);
      [[fallthrough]];
    case Step::kReason:
    case Step::kRequestLineEnd:
      if (c == '\r') return next(Step::kLf);
      if (c == '\n') return Verdict::kAccept;
      return (step_ == Step::kReason && is_reason_char(c)) ? kMore : kReject;
    case Step::kLf:
      return c == '\n' ? Verdict::kAccept : kReject;
  }
  return kReject;
}

LineMatch match_request_line(std::string_view data) { return match_line(Kind::kRequest, data); }
LineMatch match_status_line(std::string_view data) { return match_line(Kind::kResponse, data); }

bool looks_like_request_line(std::string_view data) { return looks_like_line(Kind::kRequest, data); }
bool looks_like_status_line(std::string_view data) { return looks_like_line(Kind::kResponse, data); }

}  // namespace spanwire::http1
