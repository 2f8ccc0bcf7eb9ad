#include "conn/connection_info.h"

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

void ThreadTrail::note(uint64_t offset, uint32_t tid) {
  if (!marks_.empty() && marks_.back().offset <= offset) {
    if (marks_.back().tid != tid) marks_.push_back({offset, tid});
  } else {  // an event that overtook an earlier one: keep the marks ordered
    auto it = std::upper_bound(marks_.begin(), marks_.end(), offset,
                               [](uint64_t o, const Mark& m) { return o < m.offset; });
    marks_.insert(it, {offset, tid});
  }
  if (marks_.size() > kThreadTrailLength) marks_.erase(marks_.begin());
}

uint32_t ThreadTrail::at(uint64_t offset) const {
  auto it = std::upper_bound(marks_.begin(), marks_.end(), offset,
                             [](uint64_t o, const Mark& m) { return o < m.offset; });
  if (it == marks_.begin()) return 0;  // before anything remembered
  return std::prev(it)->tid;
}

}  // namespace spanwire
