#include "conn/connection_info.h"

#include <algorithm>

namespace spanwire {

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
