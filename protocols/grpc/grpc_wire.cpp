#include "grpc/grpc_wire.h"

#include "common/hex.h"

namespace spanwire::grpc_wire {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

bool is_grpc(std::string_view content_type) {
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  constexpr std::string_view kType = "application/grpc";
  if (!istarts_with(content_type, kType)) return false;
  const std::string_view rest = content_type.substr(kType.size());
  if (rest.empty()) return true;
  if (rest.front() == '+') return rest.size() > 1 && rest[1] != ';' && rest[1] != ' ';
  return rest.front() == ';' || rest.front() == ' ' || rest.front() == '\t';
}

std::optional<MethodPath> parse_path(std::string_view path) {
  if (path.size() < 4 || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) return std::nullopt;
  const std::string_view method = path.substr(slash + 1);
  if (method.find('/') != std::string_view::npos || method.find('?') != std::string_view::npos) {
    return std::nullopt;
  }
  return MethodPath{path.substr(0, slash), method};
}

void MessageFramer::complete_message() {
  ++messages_;
  message_bytes_ += current_length_;
  if (current_compressed_) ++compressed_;
  in_payload_ = false;
  prefix_have_ = 0;
}

void MessageFramer::feed(std::string_view data) {
  if (lost_) return;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    if (in_payload_) {
      const uint64_t take = remaining_ < left ? remaining_ : left;
      remaining_ -= take;
      p += take;
      left -= static_cast<size_t>(take);
      if (remaining_ == 0) complete_message();
      continue;
    }
    prefix_[prefix_have_++] = *p++;
    --left;
    if (prefix_have_ < 5) continue;
    current_compressed_ = (prefix_[0] & 0x01) != 0;
    current_length_ = (uint64_t{prefix_[1]} << 24) | (uint64_t{prefix_[2]} << 16) |
                      (uint64_t{prefix_[3]} << 8) | uint64_t{prefix_[4]};
    remaining_ = current_length_;
    in_payload_ = true;
    if (remaining_ == 0) complete_message();
  }
}

void MessageFramer::gap(uint64_t n) {
  if (n == 0 || lost_) return;
  had_gap_ = true;
  if (in_payload_ && n <= remaining_) {
    remaining_ -= n;
    if (remaining_ == 0) complete_message();
    return;
  }
  lost_ = true;
}

const char* status_name(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",     "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS",     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE", "UNIMPLEMENTED",   "INTERNAL",
      "UNAVAILABLE", "DATA_LOSS",        "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return nullptr;
  return kNames[code];
}

std::optional<int> parse_status(std::string_view value) {
  if (value.empty() || value.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 0x7fffffff) return std::nullopt;
  return static_cast<int>(v);
}

std::string decode_message(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size() && hex_value(value[i + 1]) >= 0 &&
        hex_value(value[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(value[i + 1]) * 16 + hex_value(value[i + 2])));
      i += 2;
    } else {
      out.push_back(value[i]);
    }
  }
  return out;
}

std::string encode_message(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace spanwire::grpc_wire
