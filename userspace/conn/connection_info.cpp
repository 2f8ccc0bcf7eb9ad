#include "conn/connection_info.h"

#include <arpa/inet.h>

#include <algorithm>

namespace spanwire {

std::string Endpoint::address() const {
  static constexpr std::array<uint8_t, 12> kV4Mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::equal(kV4Mapped.begin(), kV4Mapped.end(), addr.begin()))
    inet_ntop(AF_INET, addr.data() + 12, buf, sizeof(buf));
  else
    inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace spanwire
