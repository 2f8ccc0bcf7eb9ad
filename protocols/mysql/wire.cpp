#include "mysql/wire.h"

#include <algorithm>
#include <utility>

namespace spanwire::mysql {
namespace {
constexpr size_t kMaxQueued = 4096;
}  // namespace

void Reader::feed(std::string_view bytes, uint64_t ts) {
  while (!bytes.empty()) {
    size_t used = 0;
    switch (state_) {
      case State::kHeader: used = read_header(bytes, ts); break;
      case State::kPayload: used = read_payload(bytes); break;
      case State::kLost: used = read_lost(bytes); break;
    }
    if (in_packet_) cur_.last_ts = std::max(cur_.last_ts, ts);
    bytes.remove_prefix(used);
  }
}

size_t Reader::read_header(std::string_view bytes, uint64_t ts) {
  if (header_have_ == 0 && !in_packet_) {
    cur_ = Packet{};
    cur_.offset = pos_;
    cur_.first_ts = cur_.last_ts = ts;
    cur_.losses_before = stats_.resyncs;
    in_packet_ = true;
  }
  const size_t take = std::min(bytes.size(), 4 - header_have_);
  std::copy_n(bytes.data(), take, header_ + header_have_);
  header_have_ += take;
  pos_ += take;
  if (header_have_ < 4) return take;
  header_have_ = 0;
  const uint32_t length = header_[0] | (uint32_t{header_[1]} << 8) | (uint32_t{header_[2]} << 16);
  if (cur_.length == 0 && !continues_) cur_.seq = header_[3];
  continues_ = length == kMaxPayload;
  part_left_ = length;
  cur_.length += length;
  state_ = State::kPayload;
  if (part_left_ == 0) end_of_part();
  return take;
}

// What a payload is follows from its side and sequence id: a command's SQL
// (client, sequence 0), the handshake response (the database name; its
// authentication data is never parsed), the greeting (the server's
// version), or a result packet, of which only the header fields count.
size_t Reader::keep_limit() const {
  if (side_ == Side::kClient) return cur_.seq == 0 ? kMaxKept : 512;
  return cur_.seq == 0 ? 256 : 32;
}

size_t Reader::read_payload(std::string_view bytes) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(part_left_, bytes.size()));
  const size_t keep = keep_limit();
  if (cur_.head.size() < keep) cur_.head.append(bytes.substr(0, std::min(take, keep - cur_.head.size())));
  part_left_ -= take;
  pos_ += take;
  if (part_left_ == 0) end_of_part();
  return take;
}

// A packet ended: the payload too, unless it was 0xFFFFFF long.
void Reader::end_of_part() {
  state_ = State::kHeader;
  if (continues_) return;
  in_packet_ = false;
  stats_.packets++;
  if (done_.size() >= kMaxQueued) done_.pop_front();
  done_.push_back(std::move(cur_));
  cur_ = Packet{};
}

void Reader::gap(uint64_t n, uint64_t ts) {
  if (n == 0) return;
  if (state_ == State::kPayload && n <= part_left_) {  // inside a payload: sync is kept
    part_left_ -= n;
    pos_ += n;
    cur_.head_cut = true;
    cur_.last_ts = std::max(cur_.last_ts, ts);
    if (part_left_ == 0) end_of_part();
    return;
  }
  if (state_ != State::kLost) lose_sync();
  pos_ += n;
}

void Reader::lose_sync() {
  stats_.resyncs++;
  state_ = State::kLost;
  header_have_ = 0;
  continues_ = in_packet_ = false;
  cur_ = Packet{};
}

void Reader::resume_at(uint64_t offset) {
  if (state_ == State::kLost && offset >= pos_) resume_ = offset;
}

// Out of sync. The client looks for a command (sequence 0, a length that
// fits the write) at the start of a write; the server waits for the offset
// the session names.
size_t Reader::read_lost(std::string_view bytes) {
  size_t skip = bytes.size();
  if (resume_ >= pos_ && resume_ < pos_ + bytes.size()) {
    skip = static_cast<size_t>(resume_ - pos_);
    resume_ = UINT64_MAX;
  } else if (side_ == Side::kClient && resume_ == UINT64_MAX && bytes.size() >= 5) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
    const uint32_t length = b[0] | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16);
    if (b[3] == 0 && length > 0 && length + 4 <= bytes.size()) skip = 0;
  }
  stats_.skipped_bytes += skip;
  pos_ += skip;
  if (skip < bytes.size()) state_ = State::kHeader;
  return skip;
}

std::deque<Packet> Reader::take() { return std::exchange(done_, {}); }

}  // namespace spanwire::mysql
