// Where, after lost bytes, the answer to a request begins: for request/answer
// protocols whose clients wait for each answer (database drivers), a request
// that began a write is answered from where the answer stream stood when it
// was written (the chunk's peer_pos, which the kernel keeps exact whatever is
// lost). The session then tells its answer reader to resume there, and the
// reader checks that a message begins at that offset.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "common/peer_positions.h"

namespace spanwire {

class AnswerStart {
 public:
  static constexpr size_t kChunksKept = 64;

  // Every chunk, as ProtocolSession::place_chunk() learns it. When the
  // answer stream's first chunk resolves an earlier find() that had to wait,
  // returns the answer offset it resolves to (or nullopt if that request was
  // answered before the answer stream began: `lost` is set).
  std::optional<uint64_t> note(bool from_client, const ChunkPlace& place, bool* lost = nullptr) {
    if (from_client) {
      if (!request_origin_) request_origin_ = place.stream_start;
      if (chunks_.empty() || chunks_.back().pos < place.pos) chunks_.push_back(place);
      if (chunks_.size() > kChunksKept) chunks_.pop_front();
      return std::nullopt;
    }
    if (answer_origin_) return std::nullopt;
    answer_origin_ = place.stream_start;
    if (!waiting_) return std::nullopt;
    const uint64_t peer = *std::exchange(waiting_, std::nullopt);
    if (peer >= *answer_origin_) return peer - *answer_origin_;
    if (lost) *lost = true;
    return std::nullopt;
  }

  enum class Verdict { kNo, kAt, kWaiting };
  struct Found {
    Verdict verdict = Verdict::kNo;
    uint64_t answer_offset = 0;  // kAt: in the answer reader's offsets
  };

  // The answer to the request at `request_offset` (the request reader's
  // offsets), if that request began a write. kWaiting: the answer stream has
  // not been placed yet; note() resolves it.
  Found find(uint64_t request_offset) {
    if (!request_origin_) return {};
    const uint64_t at = *request_origin_ + request_offset;
    auto chunk = std::find_if(chunks_.begin(), chunks_.end(), [at](const ChunkPlace& c) { return c.pos == at; });
    if (chunk == chunks_.end()) return {};
    if (!answer_origin_) {
      waiting_ = chunk->peer_pos;
      return {Verdict::kWaiting, 0};
    }
    if (chunk->peer_pos < *answer_origin_) return {};
    return {Verdict::kAt, chunk->peer_pos - *answer_origin_};
  }

  // The streams start over (TLS plaintext): origins are learned again.
  void reset() { *this = AnswerStart(); }

 private:
  std::deque<ChunkPlace> chunks_;  // request chunks, ascending positions
  std::optional<uint64_t> request_origin_, answer_origin_;  // kernel position of each reader's offset 0
  std::optional<uint64_t> waiting_;  // a found request's peer_pos, until the answer origin is known
};

}  // namespace spanwire
