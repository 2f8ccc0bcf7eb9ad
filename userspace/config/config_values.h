// Parsing and naming of the configuration's value types, shared by the three
// sources (environment, YAML file, flags) so they accept the same spellings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "common/text.h"

namespace spanwire {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The parse_* functions throw std::invalid_argument with a message that
// lists the accepted spellings; the caller prefixes where the value came from.
OtlpProtocol parse_protocol(std::string_view text);
Compression parse_compression(std::string_view text);
SamplerKind parse_sampler(std::string_view text);
std::string_view protocol_name(OtlpProtocol p);
std::string_view compression_name(Compression c);
std::string_view sampler_name(SamplerKind s);
bool sampler_uses_ratio(SamplerKind s);

// "%41b" -> "Ab". Throws on a '%' not followed by two hex digits.
std::string percent_decode(std::string_view text);

// "k1=v1, k2 = v%20two" (W3C Baggage style, as in OTEL_EXPORTER_OTLP_HEADERS
// and OTEL_RESOURCE_ATTRIBUTES): keys and values trimmed, values
// percent-decoded, empty entries skipped. Throws on an entry without '=' or
// with an empty key.
KeyValues parse_key_value_list(std::string_view text);

// One "KEY=VALUE" as given to a repeatable flag; the value is literal.
std::pair<std::string, std::string> split_key_value(std::string_view text);

// Sets `key` to `value`, replacing an earlier entry with the same key.
void upsert(KeyValues& list, std::string key, std::string value);

// HTTP header names are case-insensitive and gRPC metadata keys must be lower
// case, so header keys are stored lower-cased.
KeyValues lower_case_keys(KeyValues headers);

// The parts of "[scheme://]host[:port][/path]" that OTLP cares about. Query
// and fragment are kept in `path` (OTLP may ignore them).
struct UrlParts {
  std::string scheme;  // lower case; empty when absent
  std::string host;    // IPv6 literals keep their brackets
  std::optional<uint16_t> port;
  std::string path;  // "" or starting with '/'
};
// nullopt when the text cannot be an endpoint (no host, bad port, spaces).
std::optional<UrlParts> split_url(std::string_view text);

// The OTLP/HTTP signal URL built from a generic (base) endpoint:
// "http://h:4318" and "http://h:4318/" -> "http://h:4318/v1/traces",
// "http://h:4318/p/" -> "http://h:4318/p/v1/traces".
std::string append_signal_path(std::string_view base, std::string_view signal_path);

// The protocol when none is configured: the well-known ports (4317 gRPC,
// 4318 HTTP) or a signal path decide, otherwise the specification's default
// http/protobuf.
OtlpProtocol infer_protocol(std::string_view endpoint);

// "1", " 42 " -> number; nullopt for anything else (sign, fraction, overflow).
std::optional<uint64_t> parse_unsigned(std::string_view text);
std::optional<double> parse_double(std::string_view text);

// A setting's text without surrounding spaces, tabs and line breaks.
std::string trim(std::string_view text);

}  // namespace spanwire
