#include "http/url_redaction.h"

#include <algorithm>

#include "common/hex.h"
#include "common/text.h"

namespace spanwire {
namespace {

constexpr std::string_view kRedacted = "REDACTED";

// A query parameter name as a server reads it: '+' is a space, %XX a byte,
// and case does not matter for our list ("Sig", "si%67" and "sig" are one).
std::string canonical_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '+') {
      out += ' ';
    } else if (name[i] == '%' && i + 2 < name.size() && hex_value(name[i + 1]) >= 0 &&
               hex_value(name[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(name[i + 1]) * 16 + hex_value(name[i + 2]));
      i += 2;
    } else {
      out += name[i];
    }
  }
  return to_lower(out);
}

}  // namespace

const std::vector<std::string>& UrlRedaction::default_query_params() {
  static const std::vector<std::string> kDefaults = {
      "AWSAccessKeyId", "Signature", "sig",          "X-Goog-Signature", "X-Amz-Signature",
      "api_key",        "token",     "access_token", "password",         "secret"};
  return kDefaults;
}

UrlRedaction::UrlRedaction(const std::vector<std::string>& extra_params) {
  for (const auto* list : {&default_query_params(), &extra_params})
    for (const std::string& name : *list) names_.push_back(canonical_name(name));
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
}

bool UrlRedaction::sensitive(std::string_view param_name) const {
  return std::binary_search(names_.begin(), names_.end(), canonical_name(param_name));
}

std::string UrlRedaction::query(std::string_view query) const {
  std::string out;
  out.reserve(query.size());
  size_t start = 0;
  while (start <= query.size()) {
    const size_t end = std::min(query.find_first_of("&;", start), query.size());
    const std::string_view pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && sensitive(pair.substr(0, eq))) {
      out += pair.substr(0, eq + 1);
      out += kRedacted;
    } else {
      out += pair;
    }
    if (end == query.size()) break;
    out += query[end];
    start = end + 1;
  }
  return out;
}

std::string UrlRedaction::full_url(std::string_view url) const {
  std::string out;
  // scheme://[userinfo@]host[:port]: the authority ends at the first / ? or #.
  const size_t scheme_end = url.find("://");
  size_t rest = 0;
  if (scheme_end != std::string_view::npos) {
    const size_t authority_start = scheme_end + 3;
    const size_t authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
    const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
    out += url.substr(0, authority_start);
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
      out += "REDACTED:REDACTED";
      out += authority.substr(at);
    } else {
      out += authority;
    }
    rest = authority_end;
  }
  // The query runs from the first '?' to the fragment's '#'; a '?' inside
  // the fragment starts no query.
  const size_t fragment = std::min(url.find('#', rest), url.size());
  const size_t q = url.substr(0, fragment).find('?', rest);
  if (q == std::string_view::npos) {
    out += url.substr(rest);
    return out;
  }
  out += url.substr(rest, q + 1 - rest);
  out += query(url.substr(q + 1, fragment - q - 1));
  out += url.substr(fragment);
  return out;
}

}  // namespace spanwire
