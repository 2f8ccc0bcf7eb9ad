#include "span/span.h"

#include <algorithm>

namespace spanwire {

bool Span::has_parent() const {
  return std::any_of(parent_span_id.begin(), parent_span_id.end(), [](uint8_t b) { return b != 0; });
}

const AttributeValue* Span::find(std::string_view key) const {
  for (const auto& a : attributes)
    if (a.key == key) return &a.value;
  return nullptr;
}

std::string Span::string_attr(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr) return {};
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return {};
}

int64_t Span::int_attr(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr) return 0;
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  return 0;
}

std::string to_hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}


}  // namespace spanwire
