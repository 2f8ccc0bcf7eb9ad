// Cheap recognisers for HTTP/1.x start lines, used by the parser to resynchronise
// and by other code to detect HTTP/1 traffic.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "http1/message.h"

namespace spanwire::http1 {

namespace detail {
// RFC 9110 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~". A table: it is on the hot path.
inline constexpr std::array<bool, 256> kTcharTable = [] {
  std::array<bool, 256> table{};
  for (size_t c = '0'; c <= '9'; ++c) table[c] = true;
  for (size_t c = 'a'; c <= 'z'; ++c) table[c] = table[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();
}  // namespace detail

// RFC 9110 token character (method names, header field names).
inline bool is_tchar(char c) { return detail::kTcharTable[static_cast<unsigned char>(c)]; }

// Recognises one start line a byte at a time, so a candidate can be judged across
// feed() boundaries without buffering for the judgement. Grammar accepted:
//   request:  token SP target SP "HTTP/1." ("0"|"1") [CR] LF
//   response: "HTTP/1." ("0"|"1") SP 3DIGIT [SP reason] [CR] LF
// A line can only be rejected at the byte that breaks it, and no byte except the
// final LF is ever an LF inside an accepted prefix. So after a rejection the next
// line start is right after the rejecting byte when it is an LF, else after the next LF;
// the bytes of a rejected candidate never need to be rescanned.
class StartLineScanner {
 public:
  enum class Verdict { kMore, kAccept, kReject };
  static constexpr int kMaxMethodLength = 32;  // real methods are short; longer = garbage

  explicit StartLineScanner(Kind kind) : kind_(kind) { reset(); }
  void reset();
  Verdict push(char c);

 private:
  enum class Step {
    kMethod, kTarget,                      // request only
    kVersion, kMinor,                      // "HTTP/1." and the minor digit
    kStatusSpace, kStatus, kAfterStatus,   // response only
    kReason, kRequestLineEnd, kLf,
  };
  Kind kind_;
  Step step_ = Step::kVersion;
  int count_ = 0;  // bytes matched within the current step
};

enum class LineMatch {
  kNo,      // not a start line (or empty input)
  kPrefix,  // consistent so far, but the line does not end within the input
  kYes,     // a complete, valid start line terminated by LF (or CRLF)
};

// Judge the first line of `data`. kYes if it is complete and valid, kPrefix if `data`
// ends inside a line that is valid so far (e.g. a truncated capture).
LineMatch match_request_line(std::string_view data);
LineMatch match_status_line(std::string_view data);

// True if the first line of `data` (up to LF, or all of it if there is no LF) is a
// valid request line / status line. A missing line terminator is accepted.
bool looks_like_request_line(std::string_view data);
bool looks_like_status_line(std::string_view data);

}  // namespace spanwire::http1
