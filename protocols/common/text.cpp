#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace spanwire {

std::string_view trim(std::string_view s, std::string_view chars) {
  const size_t first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

std::vector<std::string_view> split_fields(std::string_view s, std::string_view separators, size_t max_fields) {
  std::vector<std::string_view> out;
  size_t i = s.find_first_not_of(separators);
  while (i != std::string_view::npos && out.size() < max_fields) {
    const size_t end = std::min(s.find_first_of(separators, i), s.size());
    out.push_back(s.substr(i, end - i));
    i = s.find_first_not_of(separators, end);
  }
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string one_line(std::string_view text, size_t max) {
  text = trim(text, kAnyWhitespace);
  std::string out;
  for (const char c : text.substr(0, max)) out += std::iscntrl(static_cast<unsigned char>(c)) ? ' ' : c;
  if (text.size() > max) {
    // Cut before a multi-byte character that did not fit whole.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  return out;
}

}  // namespace spanwire
