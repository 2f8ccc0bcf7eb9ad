// What a protocol module may know of the connection it describes: which end
// the sensor sits on, the two addresses, and whether the bytes were TLS.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace spanwire {

enum class Role { kUnknown = 0, kClient = 1, kServer = 2 };

struct Endpoint {
  std::array<uint8_t, 16> addr{};  // IPv6 or IPv4-mapped IPv6
  uint16_t port = 0;
  // "127.0.0.1" for IPv4-mapped addresses, else RFC 5952 IPv6 text.
  std::string address() const;
};

struct ConnectionFacts {
  Endpoint local;
  Endpoint remote;
  Role role = Role::kUnknown;
  bool tls = false;  // the bytes are TLS plaintext from the TLS library

  bool client() const { return role == Role::kClient; }
  const Endpoint& server() const { return role == Role::kClient ? remote : local; }
};

}  // namespace spanwire
