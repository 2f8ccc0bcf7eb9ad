#include "common/connection_facts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace spanwire {

std::string Endpoint::address() const {
  static constexpr std::array<uint8_t, 12> kV4Mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kV4Mapped.begin(), kV4Mapped.end(), addr.begin())) {
    // Dotted quad by hand: inet_ntop formats IPv4 through sprintf, and this
    // runs several times for every span.
    std::string out;  // at most 15 characters: no allocation
    for (size_t i = 12; i < 16; ++i) {
      char digits[3];
      const auto end = std::to_chars(digits, digits + sizeof(digits), addr[i]).ptr;
      if (i > 12) out += '.';
      out.append(digits, end);
    }
    return out;
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace spanwire
