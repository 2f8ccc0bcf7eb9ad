// Proto3 string fields must hold UTF-8, or collectors refuse the whole
// request; captured traffic can hold any bytes. Shared by the OTLP message
// builders and the direct trace encoder so both repair text alike.
#pragma once

#include <string>
#include <string_view>

namespace spanwire {

// Length of the longest prefix of s that is well-formed UTF-8.
size_t utf8_valid_prefix(std::string_view s);
// s with each byte that starts no well-formed sequence replaced by U+FFFD;
// s[0, valid_prefix) is known to be valid already.
std::string utf8_repaired(std::string_view s, size_t valid_prefix);

// Calls set(data, size) with s itself when it is valid (nearly always: no
// copy), else with the repaired copy.
template <class Setter>
void with_valid_utf8(std::string_view s, Setter set) {
  const size_t valid = utf8_valid_prefix(s);
  if (valid == s.size()) {
    set(s.data(), s.size());
    return;
  }
  const std::string fixed = utf8_repaired(s, valid);
  set(fixed.data(), fixed.size());
}

}  // namespace spanwire
