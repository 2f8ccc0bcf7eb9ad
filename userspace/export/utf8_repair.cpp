#include "export/utf8_repair.h"

#include <cstdint>
#include <cstring>

namespace spanwire {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], 0 if there is
// none (stray continuation byte, truncation, overlong form, surrogate, or
// beyond U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t code_point = 0;
  uint32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (b & 0x3F);
  }
  if (code_point < smallest || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return 0;
  return length;
}

}  // namespace

size_t utf8_valid_prefix(std::string_view s) {
  size_t valid = 0;
  // ASCII, nearly all captured text, eight bytes per step.
  for (uint64_t word = 0; valid + sizeof(word) <= s.size(); valid += sizeof(word)) {
    std::memcpy(&word, s.data() + valid, sizeof(word));
    if ((word & 0x8080808080808080ULL) != 0) break;
  }
  while (valid < s.size()) {
    const size_t n = utf8_sequence_length(s, valid);
    if (n == 0) break;
    valid += n;
  }
  return valid;
}

std::string utf8_repaired(std::string_view s, size_t valid_prefix) {
  std::string out(s.substr(0, valid_prefix));
  for (size_t i = valid_prefix; i < s.size();) {
    if (const size_t n = utf8_sequence_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

}  // namespace spanwire
