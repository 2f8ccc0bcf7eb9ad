#include "http/route.h"

#include <algorithm>
#include <cctype>

namespace spanwire {

std::string_view target_path(std::string_view target) {
  if (!target.empty() && target.front() != '/' && target != "*") {
    // absolute-form: skip "scheme://authority"
    auto scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      auto path_start = target.find('/', scheme_end + 3);
      target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
    }
  }
  auto end = target.find_first_of("?#");
  return end == std::string_view::npos ? target : target.substr(0, end);
}

namespace {
bool all_of(std::string_view s, int (*pred)(int)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// A segment names one object when it is an id-like token rather than a word.
std::string_view placeholder_for(std::string_view seg) {
  if (all_of(seg, isdigit)) return "{id}";
  if (is_uuid(seg)) return "{uuid}";
  size_t digits = std::count_if(seg.begin(), seg.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (seg.size() >= 16 && all_of(seg, isxdigit)) return "{hash}";
  // Opaque tokens: long, mixing letters and digits (base64/base62 ids, ULIDs).
  bool token_chars = std::all_of(seg.begin(), seg.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '=';
  });
  if (token_chars && seg.size() >= 20 && digits > 0) return "{token}";
  // Numeric ids with a short prefix or suffix ("v2" stays, "12345abc" goes).
  if (digits >= 4 && digits * 2 >= seg.size()) return "{id}";
  return {};
}
}  // namespace

std::string route_of(std::string_view path) {
  if (path.empty()) return "/";
  if (path.front() != '/') return std::string(path);
  std::string out;
  out.reserve(path.size());
  size_t i = 0;
  while (i < path.size()) {
    // path[i] == '/'
    size_t end = path.find('/', i + 1);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(i + 1, end - i - 1);
    out += '/';
    std::string_view ph = placeholder_for(seg);
    out += ph.empty() ? seg : ph;
    i = end;
  }
  return out;
}

}  // namespace spanwire
