#include "config/config_values.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "common/hex.h"

namespace spanwire {
namespace {

constexpr std::array<std::pair<std::string_view, SamplerKind>, 6> kSamplers{{
    {"always_on", SamplerKind::kAlwaysOn},
    {"always_off", SamplerKind::kAlwaysOff},
    {"traceidratio", SamplerKind::kTraceIdRatio},
    {"parentbased_always_on", SamplerKind::kParentBasedAlwaysOn},
    {"parentbased_always_off", SamplerKind::kParentBasedAlwaysOff},
    {"parentbased_traceidratio", SamplerKind::kParentBasedTraceIdRatio},
}};

}  // namespace

std::string trim(std::string_view text) { return std::string(trim(text, kLineWhitespace)); }

OtlpProtocol parse_protocol(std::string_view text) {
  std::string p = to_lower(trim(text));
  if (p == "grpc") return OtlpProtocol::kGrpc;
  if (p == "http/protobuf") return OtlpProtocol::kHttpProtobuf;
  if (p == "http/json") throw std::invalid_argument("protocol http/json is not supported; use http/protobuf or grpc");
  throw std::invalid_argument("unknown protocol '" + std::string(text) + "'; use grpc or http/protobuf");
}

Compression parse_compression(std::string_view text) {
  std::string c = to_lower(trim(text));
  if (c == "gzip") return Compression::kGzip;
  if (c == "none") return Compression::kNone;
  throw std::invalid_argument("unknown compression '" + std::string(text) + "'; use gzip or none");
}

SamplerKind parse_sampler(std::string_view text) {
  std::string s = to_lower(trim(text));
  for (const auto& [name, kind] : kSamplers)
    if (s == name) return kind;
  throw std::invalid_argument("unknown sampler '" + std::string(text) +
                              "'; use always_on, always_off, traceidratio, parentbased_always_on, "
                              "parentbased_always_off or parentbased_traceidratio");
}

std::string_view protocol_name(OtlpProtocol p) { return p == OtlpProtocol::kGrpc ? "grpc" : "http/protobuf"; }

std::string_view compression_name(Compression c) { return c == Compression::kGzip ? "gzip" : "none"; }

std::string_view sampler_name(SamplerKind s) {
  for (const auto& [name, kind] : kSamplers)
    if (kind == s) return name;
  return "parentbased_always_on";
}

bool sampler_uses_ratio(SamplerKind s) {
  return s == SamplerKind::kTraceIdRatio || s == SamplerKind::kParentBasedTraceIdRatio;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
    if (lo < 0) throw std::invalid_argument("'%' must be followed by two hex digits (percent-encoding)");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

KeyValues parse_key_value_list(std::string_view text) {
  KeyValues out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (trim(entry).empty()) continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) throw std::invalid_argument("entry '" + trim(entry) + "' is not key=value");
    std::string key = trim(entry.substr(0, eq));
    if (key.empty()) throw std::invalid_argument("entry '" + trim(entry) + "' has an empty key");
    upsert(out, std::move(key), percent_decode(trim(entry.substr(eq + 1))));
  }
  return out;
}

std::pair<std::string, std::string> split_key_value(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || trim(text.substr(0, eq)).empty())
    throw std::invalid_argument("'" + std::string(text) + "' is not KEY=VALUE");
  return {trim(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

void upsert(KeyValues& list, std::string key, std::string value) {
  for (auto& [k, v] : list) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  list.emplace_back(std::move(key), std::move(value));
}

KeyValues lower_case_keys(KeyValues headers) {
  KeyValues out;
  for (auto& [k, v] : headers) upsert(out, to_lower(k), std::move(v));
  return out;
}

std::optional<UrlParts> split_url(std::string_view text) {
  if (text.empty() || text.find_first_of(kLineWhitespace) != std::string_view::npos) return std::nullopt;
  UrlParts url;
  std::string_view rest = text;
  if (size_t sep = text.find("://"); sep != std::string_view::npos) {
    url.scheme = to_lower(text.substr(0, sep));
    if (url.scheme.empty()) return std::nullopt;
    rest = text.substr(sep + 3);
  }
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos) url.path = std::string(rest.substr(authority_end));
  if (!url.path.empty() && url.path.front() != '/') url.path.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials in URLs

  std::string_view port_text;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (url.host.empty() || url.host == "[]") return std::nullopt;
  if (!port_text.empty()) {
    auto port = parse_unsigned(port_text);
    if (!port || *port == 0 || *port > 65535 || port_text != trim(port_text)) return std::nullopt;
    url.port = static_cast<uint16_t>(*port);
  }
  return url;
}

std::string append_signal_path(std::string_view base, std::string_view signal_path) {
  std::string url(base);
  size_t host_start = url.find("://");
  host_start = host_start == std::string::npos ? 0 : host_start + 3;
  while (url.size() > host_start && url.back() == '/') url.pop_back();
  return url + std::string(signal_path);
}

OtlpProtocol infer_protocol(std::string_view endpoint) {
  auto url = split_url(endpoint);
  if (!url) return OtlpProtocol::kHttpProtobuf;
  // A signal path only means something to OTLP/HTTP, so it outweighs the port.
  if (url->path.ends_with("/v1/traces") || url->path.ends_with("/v1/metrics")) return OtlpProtocol::kHttpProtobuf;
  if (url->port == 4317) return OtlpProtocol::kGrpc;
  return OtlpProtocol::kHttpProtobuf;  // 4318, or the specification's default
}

std::optional<uint64_t> parse_unsigned(std::string_view text) {
  std::string t = trim(text);
  if (t.empty() || t.front() == '+' || t.front() == '-') return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc{} || end != t.data() + t.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc{} || end != t.data() + t.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace spanwire
