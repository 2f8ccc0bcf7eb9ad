#include "conn/stream_buffer.h"

#include <algorithm>

#include "metrics/metrics.h"

namespace spanwire {

void StreamBuffer::add(uint64_t pos, std::string_view bytes, uint64_t length, uint64_t ts,
                       uint64_t now, StreamConsumer& out, bool on_purpose) {
  if (!started_) start_at(pos);
  if (pos + length <= next_pos_) {  // entirely seen already
    metrics_.stream_duplicate_bytes += length;
    return;
  }
  if (pos < next_pos_) {  // overlaps what was delivered: keep the new part
    uint64_t overlap = next_pos_ - pos;
    metrics_.stream_duplicate_bytes += overlap;
    bytes = bytes.substr(std::min<uint64_t>(overlap, bytes.size()));
    length -= overlap;
    pos = next_pos_;
  }
  if (pos == next_pos_) {
    deliver(pos, bytes, length, ts, out, on_purpose);
    drain(out);
    return;
  }
  // Ahead of a hole: hold it until the hole fills or times out.
  auto [it, inserted] = pending_.try_emplace(pos, Chunk{std::string(bytes), length, ts, now, on_purpose});
  if (!inserted) {
    metrics_.stream_duplicate_bytes += length;
    return;
  }
  pending_bytes_ += bytes.size();
  while (pending_bytes_ > limits_.max_pending_bytes && !pending_.empty()) {
    skip_to_first_pending(out);
    drain(out);
  }
}

void StreamBuffer::flush_stale(uint64_t now, StreamConsumer& out, bool force) {
  while (!pending_.empty()) {
    const Chunk& first = pending_.begin()->second;
    if (!force && now - first.arrived < limits_.gap_timeout_ns) return;
    skip_to_first_pending(out);
    drain(out);
  }
}

void StreamBuffer::end_at(uint64_t total, uint64_t ts, StreamConsumer& out) {
  flush_stale(ts, out, /*force=*/true);
  if (!started_) {
    // Joined mid-way and never seen since: whether any of its bytes moved
    // after the join is unknown, so its answers may have been lost.
    if (total > 0) out.on_gap(1, ts);
    return;
  }
  if (total <= next_pos_) return;
  out.on_gap(total - next_pos_, ts);
  metrics_.stream_gap_bytes += total - next_pos_;
  next_pos_ = total;
}

void StreamBuffer::end_maybe_lost(uint64_t ts, StreamConsumer& out) {
  flush_stale(ts, out, /*force=*/true);
  out.on_gap(1, ts);
}

void StreamBuffer::deliver(uint64_t pos, std::string_view bytes, uint64_t length, uint64_t ts,
                           StreamConsumer& out, bool on_purpose) {
  if (!bytes.empty()) {
    out.on_bytes(bytes, ts);
    metrics_.stream_bytes += bytes.size();
  }
  if (length > bytes.size()) {  // not copied by the kernel (cap, sendfile, a known body, iovec bound)
    out.on_gap(length - bytes.size(), ts);
    (on_purpose ? metrics_.stream_uncopied_bytes : metrics_.stream_gap_bytes) += length - bytes.size();
  }
  next_pos_ = pos + length;
}

void StreamBuffer::drain(StreamConsumer& out) {
  while (!pending_.empty()) {
    auto it = pending_.begin();
    if (it->first > next_pos_) return;
    Chunk chunk = std::move(it->second);
    uint64_t pos = it->first;
    pending_bytes_ -= chunk.bytes.size();
    pending_.erase(it);
    if (pos + chunk.length <= next_pos_) {
      metrics_.stream_duplicate_bytes += chunk.length;
      continue;
    }
    std::string_view bytes = chunk.bytes;
    uint64_t overlap = next_pos_ - pos;
    bytes = bytes.substr(std::min<uint64_t>(overlap, bytes.size()));
    deliver(next_pos_, bytes, chunk.length - overlap, chunk.ts, out, chunk.on_purpose);
  }
}

void StreamBuffer::skip_to_first_pending(StreamConsumer& out) {
  auto it = pending_.begin();
  uint64_t hole = it->first - next_pos_;
  out.on_gap(hole, it->second.ts);
  metrics_.stream_gap_bytes += hole;
  next_pos_ = it->first;
}

}  // namespace spanwire
