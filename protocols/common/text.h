// Small string helpers shared by the protocol parsers and the daemon's
// parsers of settings, headers and /proc files. Each caller names the whitespace it trims: HTTP's optional
// whitespace is not the same set as a config value's or a file's.
#pragma once

#include <charconv>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace spanwire {

inline constexpr std::string_view kLineWhitespace = " \t\r\n";
inline constexpr std::string_view kAnyWhitespace = " \t\n\v\f\r";  // std::isspace in the C locale

// `s` without leading and trailing characters from `chars`.
std::string_view trim(std::string_view s, std::string_view chars);

// HTTP's optional whitespace (OWS, RFC 9110 5.6.3): space and tab, tested
// as two compares rather than a set, since the HTTP/1 parser trims every
// field value with it.
constexpr bool is_optional_whitespace(char c) { return c == ' ' || c == '\t'; }
constexpr std::string_view trim_optional_whitespace(std::string_view s) {
  while (!s.empty() && is_optional_whitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_optional_whitespace(s.back())) s.remove_suffix(1);
  return s;
}

// A peer's text made fit for one log line: trimmed, control characters
// turned to spaces, and cut at a UTF-8 boundary with "..." past `max` bytes.
std::string one_line(std::string_view text, size_t max = 200);

// ASCII case-insensitive equality (header names, methods, keywords).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// ASCII lower case (header names, enum spellings, gRPC metadata keys).
std::string to_lower(std::string_view s);

// The fields of `s` between runs of `separators` (no empty fields), at most
// `max_fields` of them: /proc tables are columns padded with spaces.
std::vector<std::string_view> split_fields(std::string_view s, std::string_view separators,
                                           size_t max_fields = std::numeric_limits<size_t>::max());

// The whole of `s` as an unsigned number in `base`; false for anything else
// (empty, a sign, trailing bytes, out of range for T).
template <class T>
bool parse_whole(std::string_view s, T& out, int base = 10) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace spanwire
