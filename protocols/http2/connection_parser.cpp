#include "http2/connection_parser.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "http2/counters.h"

namespace spanwire::http2 {
namespace {

bool is_interim_status(const StreamSide& side) {
  const std::string* status = side.header(":status");
  return status != nullptr && status->size() == 3 && (*status)[0] == '1';
}

}  // namespace

ConnectionParser::Direction::Direction(bool is_client, const Limits& limits)
    : client(is_client),
      side(is_client ? 0 : 1),
      state(is_client ? State::kPreface : State::kFrameHeader),
      max_frame_size(std::min(limits.max_frame_size, kMaxFrameLength)),
      hpack(limits.max_header_list) {}

ConnectionParser::ConnectionParser(Limits limits)
    : limits_(limits), dirs_{Direction(true, limits_), Direction(false, limits_)} {}

void ConnectionParser::attach_counters(ProtocolCounters& c) {
  stats_.frames.attach(c.slot(counter::frames));
  stats_.streams.attach(c.slot(counter::streams));
  stats_.resets.attach(c.slot(counter::resets));
  stats_.goaways.attach(c.slot(counter::goaways));
  stats_.errors.attach(c.slot(counter::parse_errors));
  stats_.resyncs.attach(c.slot(counter::resyncs));
  stats_.skipped_bytes.attach(c.slot(counter::unparsed_bytes));
  stats_.hpack_unknown_connections.attach(c.slot(counter::hpack_unknown_connections));
  stats_.hpack_uncertain_blocks.attach(c.slot(counter::hpack_uncertain_blocks));
}

void ConnectionParser::feed_client(std::string_view data, uint64_t ts) { feed(dirs_[0], data, ts); }
void ConnectionParser::feed_server(std::string_view data, uint64_t ts) { feed(dirs_[1], data, ts); }
void ConnectionParser::gap_client(uint64_t n, uint64_t ts) { gap(dirs_[0], n, ts); }
void ConnectionParser::gap_server(uint64_t n, uint64_t ts) { gap(dirs_[1], n, ts); }

void ConnectionParser::start_midstream() {
  if (closed_) return;
  streams_uncertain_ = true;
  for (Direction& d : dirs_) {
    d.first_frame = false;
    if (d.state == State::kResync) continue;
    lose_sync(d);
  }
}

const Stream* ConnectionParser::find_open(uint32_t id) const {
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second.stream;
}

std::vector<Stream> ConnectionParser::take_streams() { return std::exchange(done_, {}); }

// --- loss of sync ---

void ConnectionParser::hpack_lost(Direction& d) {
  d.hpack.set_state_unknown();
  note_hpack_unknown();
}

void ConnectionParser::lose_sync(Direction& d) {
  ++stats_.resyncs;
  streams_uncertain_ = true;
  if (d.in_block) {
    // The block being assembled is lost: its stream's fields are incomplete.
    if (auto it = open_.find(d.block_push ? d.promised_stream : d.block_stream); it != open_.end()) {
      StreamSide& side = d.block_push ? it->second.stream.request
                                      : (d.client ? it->second.stream.request : it->second.stream.response);
      side.headers_uncertain = true;
    }
    d.in_block = false;
    d.block.clear();
  }
  // Bytes of any open stream may be among the lost ones: message counts of this
  // direction can no longer be trusted.
  taps_lost(d.side);
  hpack_lost(d);
  d.state = State::kResync;
  d.header_have = 0;
  d.payload.clear();
  d.preface_have = 0;
  d.first_frame = false;
}

bool ConnectionParser::plausible(const Direction& d, const FrameHeader& h,
                                 const FrameHeader* previous) const {
  if (check_frame_header(h, d.max_frame_size, /*strict=*/true) != FrameCheck::kOk) return false;
  const auto type = static_cast<FrameType>(h.type);
  const bool previous_open_block =
      previous != nullptr &&
      (previous->type == static_cast<uint8_t>(FrameType::kHeaders) ||
       previous->type == static_cast<uint8_t>(FrameType::kPushPromise) ||
       previous->type == static_cast<uint8_t>(FrameType::kContinuation)) &&
      !previous->has(flags::kEndHeaders);
  if (previous_open_block) {
    return type == FrameType::kContinuation && h.stream_id == previous->stream_id;
  }
  switch (type) {
    case FrameType::kContinuation: return false;  // useless without its HEADERS
    case FrameType::kHeaders: return !d.client || (h.stream_id & 1) != 0;
    case FrameType::kPushPromise: return !d.client;
    default: return true;
  }
}

ConnectionParser::Judgement ConnectionParser::judge(const Direction& d, size_t at, bool at_close) const {
  const std::string_view buf(d.resync);
  FrameHeader h;
  if (!decode_frame_header(buf.substr(at), h) || !plausible(d, h, nullptr)) return Judgement::kReject;
  const size_t end = at + kFrameHeaderSize + h.length;
  // Too far ahead to confirm within the window: taken on its own merits. (Decided
  // before looking at the buffer, so that the outcome never depends on feed sizes.)
  if (end + kFrameHeaderSize - at > limits_.max_buffered_frame + 2 * kFrameHeaderSize) {
    return Judgement::kAccept;
  }
  if (end + kFrameHeaderSize <= buf.size()) {
    FrameHeader next;
    decode_frame_header(buf.substr(end), next);
    return plausible(d, next, &h) ? Judgement::kAccept : Judgement::kReject;
  }
  if (at_close) return end <= buf.size() ? Judgement::kAccept : Judgement::kReject;
  return Judgement::kNeedMore;
}

std::optional<size_t> ConnectionParser::scan_resync(Direction& d, bool at_close) {
  size_t at = 0;
  std::optional<size_t> found;
  for (; at + kFrameHeaderSize <= d.resync.size(); ++at) {
    const Judgement j = judge(d, at, at_close);
    if (j == Judgement::kReject) continue;
    if (j == Judgement::kAccept) found = at;
    break;
  }
  if (at_close && !found) at = d.resync.size();
  // Bytes before `at` can never start a frame: drop them.
  stats_.skipped_bytes += at;
  d.resync.erase(0, at);
  if (found) return size_t{0};
  return std::nullopt;
}

// --- input ---

void ConnectionParser::feed(Direction& d, std::string_view data, uint64_t ts) {
  d.stream_end += data.size();
  if (closed_ || d.state == State::kClosed) return;
  std::string replay;  // bytes given back by the resync search
  while (!data.empty()) {
    switch (d.state) {
      case State::kPreface: {
        const size_t n = std::min(kClientPreface.size() - d.preface_have, data.size());
        if (data.substr(0, n) == kClientPreface.substr(d.preface_have, n)) {
          d.preface_have += n;
          data.remove_prefix(n);
          if (d.preface_have == kClientPreface.size()) d.state = State::kFrameHeader;
        } else {
          // Not the start of the connection: search for frames, the matched part included.
          const std::string_view matched = kClientPreface.substr(0, d.preface_have);
          lose_sync(d);
          d.resync.assign(matched);
        }
        break;
      }
      case State::kFrameHeader: {
        if (d.header_have == 0) {
          d.frame_ts = ts;
          // What is left of the input always ends at the stream's end (a resync
          // replays the searched bytes, which end there too).
          d.frame_offset = d.stream_end - data.size();
        }
        const size_t n = std::min(kFrameHeaderSize - d.header_have, data.size());
        std::memcpy(d.header_buf + d.header_have, data.data(), n);
        d.header_have += n;
        data.remove_prefix(n);
        if (d.header_have == kFrameHeaderSize) on_frame_header(d, ts);
        break;
      }
      case State::kPayload: {
        const size_t n = std::min(d.payload_want - d.payload.size(), data.size());
        d.payload.append(data.substr(0, n));
        data.remove_prefix(n);
        if (d.payload.size() == d.payload_want) {
          if (d.skip_left > 0) d.state = State::kSkip;
          else on_frame_complete(d, ts);
        }
        break;
      }
      case State::kSkip: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(d.skip_left, data.size()));
        d.skip_left -= n;
        data.remove_prefix(n);
        if (d.skip_left == 0) on_frame_complete(d, ts);
        break;
      }
      case State::kData:
        data.remove_prefix(on_data(d, data, ts));
        break;
      case State::kResync: {
        d.resync.append(data);
        data = {};
        if (scan_resync(d, false)) {
          std::string next = std::exchange(d.resync, {});
          replay = std::move(next);
          data = replay;
          d.state = State::kFrameHeader;
          d.header_have = 0;
        }
        break;
      }
      case State::kClosed:
        return;
    }
  }
}

void ConnectionParser::gap(Direction& d, uint64_t n, uint64_t ts) {
  d.stream_end += n;
  if (closed_ || d.state == State::kClosed || n == 0) return;
  ++stats_.gaps;
  if (d.state == State::kData && n <= d.frame_left) {
    // Entirely inside this DATA payload (e.g. bytes the kernel did not copy).
    if (d.need_pad_length) {
      // The Pad Length byte is lost: the data / padding split is unknown.
      d.need_pad_length = false;
      d.pad_unknown = true;
      d.content_left = d.frame_left - 1;
    }
    const uint64_t in_content = std::min(n, d.content_left);
    deliver_data(d, {}, in_content, ts);
    d.content_left -= in_content;
    d.frame_left -= n;
    if (d.frame_left == 0) end_data_frame(d, ts);
    return;
  }
  if (d.state == State::kSkip && n <= d.skip_left) {
    d.skip_left -= n;
    if (d.skip_left == 0) on_frame_complete(d, ts);
    return;
  }
  if (d.state == State::kData) deliver_data(d, {}, d.content_left, ts);  // the rest of it is lost too
  if (d.state == State::kResync) {
    stats_.skipped_bytes += d.resync.size();
    d.resync.clear();
    hpack_lost(d);
    taps_lost(d.side);
    return;
  }
  lose_sync(d);
}

void ConnectionParser::close(uint64_t ts) {
  if (closed_) return;
  for (Direction& d : dirs_) {
    // Frames still waiting for confirmation in the resync window are taken as they are.
    while (d.state == State::kResync && d.resync.size() >= kFrameHeaderSize) {
      if (!scan_resync(d, true)) break;
      std::string replay = std::exchange(d.resync, {});
      d.state = State::kFrameHeader;
      d.header_have = 0;
      feed(d, replay, ts);
    }
    stats_.skipped_bytes += d.resync.size();
    d.resync.clear();
    if (d.in_block) {
      d.in_block = false;
      d.block.clear();
    }
    d.state = State::kClosed;
  }
  closed_ = true;
  while (!order_.empty()) {
    Entry& e = open_.at(order_.begin()->second);
    if (goaway_error_ && !e.stream.goaway_error) e.stream.goaway_error = goaway_error_;
    finish(e);
  }
}

// --- frames ---

void ConnectionParser::on_frame_header(Direction& d, uint64_t ts) {
  d.header_have = 0;
  FrameHeader& h = d.frame;
  decode_frame_header(std::string_view(reinterpret_cast<const char*>(d.header_buf), kFrameHeaderSize), h);
  const FrameCheck check = check_frame_header(h, d.max_frame_size, /*strict=*/false);
  if (check != FrameCheck::kOk) {
    // Corrupt or misaligned: search again from the byte after this header's first one.
    ++stats_.errors;
    lose_sync(d);
    ++stats_.skipped_bytes;
    d.resync.assign(reinterpret_cast<const char*>(d.header_buf) + 1, kFrameHeaderSize - 1);
    return;
  }
  const auto type = static_cast<FrameType>(h.type);
  if (d.in_block && !(type == FrameType::kContinuation && h.stream_id == d.block_stream)) {
    // A header block left unfinished (RFC 9113 6.10): its table updates are lost.
    ++stats_.errors;
    if (auto it = open_.find(d.block_push ? d.promised_stream : d.block_stream); it != open_.end()) {
      (d.client || d.block_push ? it->second.stream.request : it->second.stream.response)
          .headers_uncertain = true;
    }
    d.in_block = false;
    d.block.clear();
    hpack_lost(d);
  }
  if (d.first_frame) {
    // The server's connection preface is a SETTINGS frame: anything else means the
    // capture did not start at the beginning of the connection.
    if (!d.client && !(type == FrameType::kSettings && !h.has(flags::kAck))) {
      hpack_lost(d);
      streams_uncertain_ = true;
    }
    d.first_frame = false;
  }

  if (type == FrameType::kData) {
    d.frame_left = h.length;
    d.need_pad_length = h.has(flags::kPadded);
    d.pad_unknown = false;
    d.content_left = d.need_pad_length ? 0 : h.length;
    Entry* e = find_or_create(h.stream_id, streams_uncertain_);
    if (e != nullptr) {
      touch(*e, d.side, d.frame_ts, ts, d.frame_offset);
    } else if (!streams_uncertain_ && open_.count(h.stream_id) == 0 && !recent_.count(h.stream_id) &&
               h.stream_id > max_id_[h.stream_id & 1]) {
      ++stats_.errors;  // DATA on an idle stream
    }
    d.state = State::kData;
    if (h.length == 0) end_data_frame(d, ts);
    return;
  }
  if (h.type > kLastKnownFrameType) {  // extension frame: ignored (RFC 9113 4.1)
    d.skip_left = h.length;
    d.payload.clear();
    d.payload_truncated = true;
    d.state = State::kSkip;
    if (h.length == 0) on_frame_complete(d, ts);
    return;
  }
  d.payload.clear();
  d.payload_want = std::min<size_t>(h.length, limits_.max_buffered_frame);
  d.skip_left = h.length - d.payload_want;
  d.payload_truncated = d.skip_left > 0;
  d.state = State::kPayload;
  if (h.length == 0) on_frame_complete(d, ts);
}

size_t ConnectionParser::on_data(Direction& d, std::string_view data, uint64_t ts) {
  size_t used = 0;
  if (d.need_pad_length) {
    const uint32_t pad = static_cast<unsigned char>(data[0]);
    used = 1;
    d.need_pad_length = false;
    d.frame_left -= 1;
    if (pad > d.frame_left) {
      ++stats_.errors;  // padding longer than the payload (PROTOCOL_ERROR): no data
      d.content_left = 0;
    } else {
      d.content_left = d.frame_left - pad;
    }
  }
  const std::string_view rest = data.substr(used);
  const size_t content = static_cast<size_t>(std::min<uint64_t>(d.content_left, rest.size()));
  if (content > 0) deliver_data(d, rest.substr(0, content), 0, ts);
  d.content_left -= content;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(d.frame_left, rest.size()));
  d.frame_left -= take;
  used += take;
  if (d.frame_left == 0) end_data_frame(d, ts);
  return used;
}

void ConnectionParser::deliver_data(Direction& d, std::string_view bytes, uint64_t gap_bytes, uint64_t ts) {
  auto it = open_.find(d.frame.stream_id);
  if (it == open_.end()) return;
  Entry& e = it->second;
  StreamSide& side = d.client ? e.stream.request : e.stream.response;
  side.data_bytes += bytes.size() + gap_bytes;
  DataTap* tap = e.tap[d.side].get();
  if (tap != nullptr && !bytes.empty()) tap->data(bytes);
  if (gap_bytes > 0) {
    side.data_gap = true;
    if (tap != nullptr) d.pad_unknown ? tap->lost() : tap->gap(gap_bytes);
  }
  side.last_ts = std::max(side.last_ts, ts);
}

void ConnectionParser::end_data_frame(Direction& d, uint64_t ts) {
  ++stats_.frames;
  d.state = State::kFrameHeader;
  auto it = open_.find(d.frame.stream_id);
  if (it == open_.end()) return;
  Entry& e = it->second;
  touch(e, d.side, d.frame_ts, ts, d.frame_offset);
  if (d.frame.has(flags::kEndStream)) {
    (d.client ? e.stream.request : e.stream.response).end_stream = true;
    maybe_complete(e);
  }
}

void ConnectionParser::on_frame_complete(Direction& d, uint64_t ts) {
  ++stats_.frames;
  d.state = State::kFrameHeader;
  const FrameHeader& h = d.frame;
  const std::string_view payload(d.payload);
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kHeaders:
    case FrameType::kPushPromise: {
      PayloadView view;
      const bool push = h.type == static_cast<uint8_t>(FrameType::kPushPromise);
      if (!strip_payload(h, payload, view)) {
        ++stats_.errors;  // bad padding: the fragment is unusable, and so is the table
        hpack_lost(d);
        view.content = {};
        d.payload_truncated = true;
      }
      if (push && view.promised_stream_id == 0) d.payload_truncated = true;
      d.block_ts = d.frame_ts;
      d.block_offset = d.frame_offset;
      begin_block(d, h.stream_id, h.has(flags::kEndStream) && !push, push, view.promised_stream_id,
                  view.content, d.payload_truncated);
      if (h.has(flags::kEndHeaders)) finish_block(d, ts);
      break;
    }
    case FrameType::kContinuation:
      if (!d.in_block) {
        ++stats_.errors;  // its HEADERS was not seen: the table updates it carries are lost
        hpack_lost(d);
        break;
      }
      if (d.payload_truncated || d.block.size() + payload.size() > limits_.max_header_block) {
        d.block_oversized = true;
        d.block.clear();
      } else if (!d.block_oversized) {
        d.block.append(payload);
      }
      if (h.has(flags::kEndHeaders)) finish_block(d, ts);
      break;
    case FrameType::kRstStream:
      on_rst_stream(d);
      break;
    case FrameType::kSettings:
      on_settings(d);
      break;
    case FrameType::kGoaway:
      on_goaway(d);
      break;
    case FrameType::kPriority:
    case FrameType::kPing:
    case FrameType::kWindowUpdate:
    case FrameType::kData:  // handled by end_data_frame
      break;
  }
  d.payload.clear();
}

void ConnectionParser::begin_block(Direction& d, uint32_t stream, bool end_stream, bool push,
                                   uint32_t promised, std::string_view fragment, bool truncated) {
  d.in_block = true;
  d.block_stream = stream;
  d.block_end_stream = end_stream;
  d.block_push = push;
  d.promised_stream = promised;
  d.block.clear();
  d.block_oversized = truncated || fragment.size() > limits_.max_header_block;
  if (!d.block_oversized) d.block.assign(fragment);
}

void ConnectionParser::finish_block(Direction& d, uint64_t ts) {
  d.in_block = false;
  bool truncated = false, uncertain = false;
  std::vector<Header> fields;
  if (d.block_oversized) {
    // Not decodable within the limits: the table updates it carries are lost.
    ++stats_.errors;
    hpack_lost(d);
    truncated = uncertain = true;
  } else {
    DecodedBlock decoded = d.hpack.decode(d.block);
    ++stats_.header_blocks;
    if (decoded.failed_known) note_hpack_unknown();
    if (decoded.malformed) ++stats_.errors;
    uncertain = decoded.omitted > 0 || decoded.malformed;
    if (uncertain) ++stats_.hpack_uncertain_blocks;
    truncated = decoded.truncated;
    fields = std::move(decoded.fields);
  }
  d.block.clear();
  d.block.shrink_to_fit();

  if (d.block_push) {
    // The promised request: a server-initiated stream whose request side is complete.
    if ((d.promised_stream & 1) != 0 || d.promised_stream == 0) return;
    Entry* e = find_or_create(d.promised_stream, true);
    if (e == nullptr) return;
    StreamSide& side = e->stream.request;
    if (!e->got_headers[0]) {
      side.headers = std::move(fields);
      e->got_headers[0] = true;
      open_tap(*e, 0);
    }
    side.headers_uncertain |= uncertain;
    side.headers_truncated |= truncated;
    side.end_stream = true;
    touch(*e, 0, d.block_ts, ts, d.block_offset);
    maybe_complete(*e);
    return;
  }
  Entry* e = find_or_create(d.block_stream, true);
  if (e == nullptr) return;
  StreamSide& side = d.client ? e->stream.request : e->stream.response;
  if (!e->got_headers[d.side] || (!d.block_end_stream && side.trailers.empty()) ||
      (is_interim_status(side) && side.trailers.empty())) {
    // First block, or the final response after an interim (1xx) one.
    side.headers = std::move(fields);
    e->got_headers[d.side] = true;
    open_tap(*e, d.side);
  } else {
    side.trailers = std::move(fields);
  }
  side.headers_uncertain |= uncertain;
  side.headers_truncated |= truncated;
  touch(*e, d.side, d.block_ts, ts, d.block_offset);
  if (d.block_end_stream) side.end_stream = true;
  maybe_complete(*e);
}

void ConnectionParser::on_rst_stream(Direction& d) {
  ++stats_.resets;
  if (d.payload.size() < 4) return;
  auto it = open_.find(d.frame.stream_id);
  if (it == open_.end()) return;
  it->second.stream.rst_error = read_u32(d.payload, 0);
  maybe_complete(it->second);
}

void ConnectionParser::on_settings(Direction& d) {
  Direction& peer = other(d);
  if (d.frame.has(flags::kAck)) {
    // `d` applied the oldest unacknowledged SETTINGS of its peer: from here on, the
    // header blocks `d` sends honour the peer's HEADER_TABLE_SIZE.
    if (peer.unacked_table_sizes.empty()) return;
    const uint32_t size = peer.unacked_table_sizes.front();
    peer.unacked_table_sizes.pop_front();
    if (size != d.applied_table_size) {
      d.hpack.set_max_table_size(size);
      d.applied_table_size = size;
    }
    return;
  }
  const std::string_view p(d.payload);
  std::optional<uint32_t> table_size;
  for (size_t at = 0; at + 6 <= p.size(); at += 6) {
    const uint16_t id = static_cast<uint16_t>((static_cast<unsigned char>(p[at]) << 8) |
                                              static_cast<unsigned char>(p[at + 1]));
    const uint32_t value = read_u32(p, at + 2);
    if (id == settings::kHeaderTableSize) {
      table_size = value;
    } else if (id == settings::kMaxFrameSize) {
      // Frames the peer sends may now be this long (kept looser until acknowledged).
      if (value >= kDefaultMaxFrameSize && value <= kMaxFrameLength) {
        peer.max_frame_size = std::max(peer.max_frame_size, value);
      }
    }
  }
  // Every SETTINGS is acknowledged once: queue even those without HEADER_TABLE_SIZE so
  // that ACKs pair up with the right frame.
  const uint32_t size = table_size.value_or(
      d.unacked_table_sizes.empty() ? peer.applied_table_size : d.unacked_table_sizes.back());
  if (d.unacked_table_sizes.size() >= kMaxUnackedSettings) d.unacked_table_sizes.pop_front();
  d.unacked_table_sizes.push_back(size);
  // A larger table is harmless to allow at once (the peer's encoder may use it as soon
  // as it has read these SETTINGS, possibly before we see its ACK).
  if (size > peer.applied_table_size) {
    peer.hpack.set_max_table_size(size);
    peer.applied_table_size = size;
  }
}

void ConnectionParser::on_goaway(Direction& d) {
  ++stats_.goaways;
  if (d.payload.size() < 8) return;
  const uint32_t last = read_u32(d.payload, 0) & kStreamIdMask;
  const uint32_t code = read_u32(d.payload, 4);
  goaway_error_ = code;
  d.goaway_last = d.goaway_last ? std::min(*d.goaway_last, last) : last;
  // Streams initiated by the receiver of this GOAWAY with higher ids were not processed.
  const uint32_t parity = d.client ? 0 : 1;
  std::vector<uint32_t> refused;
  for (auto& [id, e] : open_) {
    if ((id & 1) == parity && id > *d.goaway_last) refused.push_back(id);
  }
  std::sort(refused.begin(), refused.end());
  for (uint32_t id : refused) {
    Entry& e = open_.at(id);
    e.stream.goaway_error = code;
    e.stream.refused = true;
    maybe_complete(e);
  }
}

// --- streams ---

void ConnectionParser::seed_upgrade_stream(StreamSide request) {
  Entry* e = find_or_create(1, true);
  if (e == nullptr) return;
  request.end_stream = true;  // stream 1 is half-closed (local) for the client
  e->stream.request = std::move(request);
  e->started[0] = true;
  e->got_headers[0] = true;
  open_tap(*e, 0);
}

void ConnectionParser::note_hpack_unknown() {
  if (!stats_.hpack_state_unknown) ++stats_.hpack_unknown_connections;
  stats_.hpack_state_unknown = true;
}

void ConnectionParser::open_tap(Entry& e, int side) {
  if (!taps_ || e.tap[side]) return;
  const StreamSide& s = side == 0 ? e.stream.request : e.stream.response;
  e.tap[side] = taps_(s);
  // DATA before the first header block: the tap joined after its first byte.
  if (e.tap[side] && s.data_bytes > 0) e.tap[side]->lost();
}

void ConnectionParser::taps_lost(int side) {
  for (auto& [id, e] : open_)
    if (e.tap[side]) e.tap[side]->lost();
}

ConnectionParser::Entry* ConnectionParser::find_or_create(uint32_t id, bool may_create) {
  if (id == 0) return nullptr;
  auto it = open_.find(id);
  if (it != open_.end()) return &it->second;
  if (!may_create || recent_.count(id) != 0) return nullptr;
  const uint32_t parity = id & 1;
  // Stream ids only grow (RFC 9113 5.1.1): a lower id not open is finished, unless
  // the connection was not followed from its start.
  if (id <= max_id_[parity] && !streams_uncertain_) return nullptr;
  max_id_[parity] = std::max(max_id_[parity], id);
  if (open_.size() >= limits_.max_open_streams) {
    if (order_.empty()) return nullptr;  // max_open_streams == 0
    Entry& oldest = open_.at(order_.begin()->second);
    oldest.stream.evicted = true;
    ++stats_.evicted_streams;
    finish(oldest);
  }
  Entry& e = open_[id];
  e.stream.id = id;
  e.seq = next_seq_++;
  order_.emplace(e.seq, id);
  ++stats_.streams;
  if (parity == 0) e.stream.request.end_stream = true;  // server-initiated: no client request
  // Initiated by a peer that had received a GOAWAY with a lower last_stream_id: refused.
  const Direction& receiver = parity == 1 ? dirs_[1] : dirs_[0];
  if (receiver.goaway_last && id > *receiver.goaway_last) {
    e.stream.refused = true;
    e.stream.goaway_error = goaway_error_;
  }
  return &e;
}

void ConnectionParser::touch(Entry& e, int side, uint64_t first_ts, uint64_t last_ts, uint64_t first_offset) {
  StreamSide& s = side == 0 ? e.stream.request : e.stream.response;
  if (!e.started[side]) {
    e.started[side] = true;
    s.first_ts = first_ts;
    s.first_offset = first_offset;
  }
  s.last_ts = std::max(s.last_ts, last_ts);
}

void ConnectionParser::maybe_complete(Entry& e) {
  if (e.stream.complete()) finish(e);
}

void ConnectionParser::finish(Entry& e) {
  Stream& s = e.stream;
  for (int side = 0; side < 2; ++side)
    if (e.tap[side]) e.tap[side]->finish(side == 0 ? s.request : s.response);
  const uint32_t id = s.id;
  order_.erase(e.seq);
  done_.push_back(std::move(s));
  open_.erase(id);  // `e` is gone from here on
  remember_closed(id);
}

void ConnectionParser::remember_closed(uint32_t id) {
  if (recent_.insert(id).second) {
    recent_order_.push_back(id);
    if (recent_order_.size() > kRecentlyClosed) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
  }
}

}  // namespace spanwire::http2
