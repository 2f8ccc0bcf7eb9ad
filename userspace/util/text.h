// Small string helpers shared by the parsers of settings, headers and /proc
// files. Each caller names the whitespace it trims: HTTP's optional
// whitespace is not the same set as a config value's or a file's.
#pragma once

#include <string>
#include <string_view>

namespace spanwire {

inline constexpr std::string_view kOptionalWhitespace = " \t";  // HTTP OWS (RFC 9110 5.6.3)
inline constexpr std::string_view kLineWhitespace = " \t\r\n";
inline constexpr std::string_view kAnyWhitespace = " \t\n\v\f\r";  // std::isspace in the C locale

// `s` without leading and trailing characters from `chars`.
std::string_view trim(std::string_view s, std::string_view chars);

// ASCII lower case (header names, enum spellings, gRPC metadata keys).
std::string to_lower(std::string_view s);

}  // namespace spanwire
