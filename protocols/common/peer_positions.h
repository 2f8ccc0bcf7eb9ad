// Where each chunk of one direction of a connection sat against the other
// direction: the evidence that pairs requests with responses after a loss.
//
// The kernel counts the bytes of both directions of every connection, lost
// events included, and stamps each chunk with the other direction's count at
// the moment the chunk moved. A response written after the server had read N
// request bytes can only answer a request that starts before N; a request
// written before a response's first byte was read cannot follow that response.
// Positions are absolute (the kernel's); a parser counts from the first byte it
// was handed, which this class converts from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

namespace spanwire {

// One chunk's placement, as the connection tracker learns it from a data event.
struct ChunkPlace {
  uint64_t pos = 0;           // the chunk's first byte, in its own direction
  uint64_t peer_pos = 0;      // bytes the other direction had moved by then
  uint64_t stream_start = 0;  // position of the first byte handed to the parser
};

class PeerPositions {
 public:
  // Chunks a connection's stream can hold unparsed at most (the stream
  // buffer's bound) divided by a small chunk: past it the oldest is forgotten.
  static constexpr size_t kMaxMarks = 4096;

  void note(const ChunkPlace& place) {
    if (!start_) start_ = place.stream_start;
    // Chunks usually come in order; one that waited behind a hole is inserted.
    auto it = marks_.end();
    while (it != marks_.begin() && std::prev(it)->pos > place.pos) --it;
    if (it != marks_.begin() && std::prev(it)->pos == place.pos) return;  // a duplicate
    marks_.insert(it, {place.pos, place.peer_pos});
    if (marks_.size() > kMaxMarks) marks_.erase(marks_.begin());
  }

  // The absolute position of a parser offset; nullopt before any chunk was placed.
  std::optional<uint64_t> absolute(uint64_t offset) const {
    if (!start_) return std::nullopt;
    return *start_ + offset;
  }

  // The other direction's position when the byte at parser offset `offset` moved.
  std::optional<uint64_t> peer_at(uint64_t offset) const {
    std::optional<uint64_t> pos = absolute(offset);
    if (!pos) return std::nullopt;
    for (auto it = marks_.rbegin(); it != marks_.rend(); ++it) {
      if (it->pos <= *pos) return it->peer_pos;
    }
    return std::nullopt;
  }

  // Marks wholly before parser offset `offset` are no longer needed (every
  // message head before it has been placed); the chunk holding it is kept.
  void forget_before(uint64_t offset) {
    std::optional<uint64_t> pos = absolute(offset);
    if (!pos) return;
    size_t keep_from = 0;
    while (keep_from + 1 < marks_.size() && marks_[keep_from + 1].pos <= *pos) ++keep_from;
    if (keep_from > 0) marks_.erase(marks_.begin(), marks_.begin() + static_cast<std::ptrdiff_t>(keep_from));
  }

 private:
  struct Mark {
    uint64_t pos;
    uint64_t peer_pos;
  };
  std::optional<uint64_t> start_;
  std::vector<Mark> marks_;  // ascending pos
};

}  // namespace spanwire
