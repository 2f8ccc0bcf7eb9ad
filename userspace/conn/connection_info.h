// What is known about one traced connection: identity, tuple, role.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace spanwire {

enum class Role { kUnknown = 0, kClient = 1, kServer = 2 };

struct Endpoint {
  std::array<uint8_t, 16> addr{};  // IPv6 or IPv4-mapped IPv6
  uint16_t port = 0;
  // "127.0.0.1" for IPv4-mapped addresses, else RFC 5952 IPv6 text.
  std::string address() const;
};

struct ConnKey {
  uint32_t tgid = 0;
  int32_t fd = 0;
  uint64_t start_ns = 0;  // fd numbers are reused: the kernel stamps each connection
  bool operator==(const ConnKey&) const = default;
};

struct ConnKeyHash {
  size_t operator()(const ConnKey& k) const {
    return std::hash<uint64_t>()(k.start_ns) ^ (std::hash<uint64_t>()((uint64_t(k.tgid) << 32) | uint32_t(k.fd)) << 1);
  }
};

struct ConnectionInfo {
  ConnKey key;
  Endpoint local;
  Endpoint remote;
  Role role = Role::kUnknown;
  uint8_t protocol = 0;    // enum sw_protocol
  bool midstream = false;  // the socket predates the sensor
  bool tls = false;        // the bytes are TLS plaintext from the TLS library
  std::string comm;        // process name
};

}  // namespace spanwire
