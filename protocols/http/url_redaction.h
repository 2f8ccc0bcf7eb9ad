// What of a URL never leaves the host, as OpenTelemetry's HTTP semantic
// conventions ask: url.full MUST NOT carry credentials (userinfo becomes
// REDACTED:REDACTED), and the values of sensitive query parameters in
// url.query and url.full are replaced by REDACTED.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spanwire {

class UrlRedaction {
 public:
  // The conventions' list (AWSAccessKeyId, Signature, sig, X-Goog-Signature)
  // and ours (X-Amz-Signature, api_key, token, access_token, password, secret).
  static const std::vector<std::string>& default_query_params();

  // The defaults plus `extra_params` (names; matched without regard to case
  // or percent-encoding).
  explicit UrlRedaction(const std::vector<std::string>& extra_params = {});

  // A query string ("a=1&sig=xyz", without '?') with sensitive values redacted.
  std::string query(std::string_view query) const;
  // An absolute URL with its userinfo and sensitive query values redacted.
  std::string full_url(std::string_view url) const;
  bool sensitive(std::string_view param_name) const;

 private:
  std::vector<std::string> names_;  // lower case, decoded
};

}  // namespace spanwire
