// Parser of one HTTP/2 connection, both directions (RFC 9113, RFC 7541).
//
// The two byte streams (client -> server, server -> client) come in through
// feed_client / feed_server in stream order; they are captured independently, so their
// relative order is only approximate. Frames are parsed with explicit per-direction
// state machines; header blocks (HEADERS / PUSH_PROMISE + CONTINUATION) are assembled
// and decoded with one HPACK decoder per direction; streams are paired by id, a request
// side (client frames) and a response side (server frames). Finished streams come out
// of take_streams() in completion order.
//
// Feed boundaries never change the result (timestamps aside). Memory is bounded: a
// partial frame header, the kept payload of one non-DATA frame (Limits::max_buffered_frame),
// one header block (Limits::max_header_block), the resync window, Limits::max_open_streams
// stream records and the streams not yet taken. DATA payloads are counted, never stored.
//
// Loss of sync (start_midstream, a client stream without the preface, a server stream
// not starting with SETTINGS, a gap outside a DATA payload, a corrupt frame header):
// the direction searches for a plausible frame header (known type, length within the
// frame size limit, stream id and length rules of the type, no undefined flags) that is
// confirmed by a plausible header right after its payload, and its HPACK table becomes
// unknown: header blocks are then decoded in certain-fields mode (see hpack_decoder.h)
// for the rest of the connection, and StreamSide::headers_uncertain marks omissions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/protocol_counters.h"
#include "http2/frame.h"
#include "http2/hpack_decoder.h"
#include "http2/stream.h"

namespace spanwire::http2 {

class ConnectionParser {
 public:
  // Stream ids remembered as finished, so that late frames (e.g. RST_STREAM after
  // END_STREAM) do not open phantom streams.
  static constexpr size_t kRecentlyClosed = 4096;
  // SETTINGS awaiting their ACK, per direction.
  static constexpr size_t kMaxUnackedSettings = 16;

  explicit ConnectionParser(Limits limits = {});

  // The application layer over HTTP/2 (gRPC) that reads each side's DATA:
  // asked once a side's first header block is known. Set before feeding.
  void set_data_taps(DataTapFactory factory) { taps_ = std::move(factory); }

  void feed_client(std::string_view data, uint64_t ts);  // may begin with the preface
  void feed_server(std::string_view data, uint64_t ts);
  // `n` bytes are missing. Inside a DATA payload: counted and skipped; otherwise the
  // direction resynchronises and its HPACK state becomes unknown.
  void gap_client(uint64_t n, uint64_t ts);
  void gap_server(uint64_t n, uint64_t ts);
  // Joined a connection already open: no preface expected, HPACK tables unknown,
  // frame alignment searched. Call before feeding.
  void start_midstream();
  // The connection began as HTTP/1.1 and switched with `Upgrade: h2c` (RFC 7540 3.2):
  // the upgrade request is stream 1's request side, already ended; the server answers
  // it on stream 1. Call before feeding the bytes that follow the 101.
  void seed_upgrade_stream(StreamSide request);
  // Connection closed: open streams are emitted (incomplete; with goaway_error if a
  // GOAWAY was seen). Later input is ignored.
  void close(uint64_t ts);
  // Finished streams since the last call, in completion order.
  std::vector<Stream> take_streams();
  const ParserStats& stats() const { return stats_; }
  // From now on the counts also add to HTTP/2's shared counters.
  void attach_counters(ProtocolCounters& counters);

  size_t open_streams() const { return open_.size(); }
  // The stream with this id while it is open (not yet finished); nullptr otherwise.
  const Stream* find_open(uint32_t id) const;
  bool hpack_known_client() const { return dirs_[0].hpack.state_known(); }
  bool hpack_known_server() const { return dirs_[1].hpack.state_known(); }

 private:
  enum class State {
    kPreface,      // client only: matching the 24-byte connection preface
    kFrameHeader,  // collecting the 9-byte frame header
    kPayload,      // keeping a non-DATA payload (up to Limits::max_buffered_frame)
    kSkip,         // discarding payload bytes (extension frame, over-long payload tail)
    kData,         // streaming a DATA payload
    kResync,       // lost: searching for a plausible frame header
    kClosed,
  };
  enum class Judgement { kReject, kAccept, kNeedMore };

  struct Direction {
    explicit Direction(bool is_client, const Limits& limits);

    bool client;
    int side;  // 0 = request side (client frames), 1 = response side
    State state;
    size_t preface_have = 0;
    bool first_frame = true;  // the next frame is the first one seen in sync from the start
    uint32_t max_frame_size;  // frames this direction may send (the receiver's setting)

    unsigned char header_buf[kFrameHeaderSize] = {};
    size_t header_have = 0;
    FrameHeader frame;
    uint64_t frame_ts = 0;  // timestamp of the current frame's first byte
    uint64_t frame_offset = 0;  // stream offset of the current frame's first byte
    uint64_t stream_end = 0;    // stream offset just past the last byte fed or declared missing
    std::string payload;
    size_t payload_want = 0;  // payload bytes to keep
    uint64_t skip_left = 0;   // payload bytes to discard after the kept ones
    bool payload_truncated = false;

    // DATA streaming
    uint64_t frame_left = 0;    // payload bytes of the DATA frame still to come
    uint64_t content_left = 0;  // data bytes (not padding) still to come
    bool need_pad_length = false;
    bool pad_unknown = false;

    // Header block assembly
    bool in_block = false;
    uint32_t block_stream = 0;
    bool block_end_stream = false;
    bool block_push = false;
    uint32_t promised_stream = 0;
    bool block_oversized = false;
    uint64_t block_ts = 0;
    uint64_t block_offset = 0;
    std::string block;

    HpackDecoder hpack;
    uint32_t applied_table_size = kDefaultHeaderTableSize;  // decoder limit in force
    std::deque<uint32_t> unacked_table_sizes;  // HEADER_TABLE_SIZE this direction sent, not yet acked

    std::string resync;  // bytes being searched for a frame boundary

    std::optional<uint32_t> goaway_last;  // last_stream_id of this direction's GOAWAY
  };

  struct Entry {
    Stream stream;
    uint64_t seq = 0;
    bool started[2] = {false, false};      // a frame of this side was seen
    bool got_headers[2] = {false, false};  // a header block of this side was applied
    std::unique_ptr<DataTap> tap[2];  // the application layer's reader of each side's DATA
  };

  void feed(Direction& d, std::string_view data, uint64_t ts);
  void gap(Direction& d, uint64_t n, uint64_t ts);
  Direction& other(const Direction& d) { return &d == &dirs_[0] ? dirs_[1] : dirs_[0]; }

  void on_frame_header(Direction& d, uint64_t ts);
  void on_frame_complete(Direction& d, uint64_t ts);
  size_t on_data(Direction& d, std::string_view data, uint64_t ts);
  void deliver_data(Direction& d, std::string_view bytes, uint64_t gap_bytes, uint64_t ts);
  void end_data_frame(Direction& d, uint64_t ts);
  void begin_block(Direction& d, uint32_t stream, bool end_stream, bool push, uint32_t promised,
                   std::string_view fragment, bool truncated);
  void finish_block(Direction& d, uint64_t ts);
  void on_rst_stream(Direction& d);
  void on_settings(Direction& d);
  void on_goaway(Direction& d);

  void lose_sync(Direction& d);
  void hpack_lost(Direction& d);
  bool plausible(const Direction& d, const FrameHeader& h, const FrameHeader* previous) const;
  Judgement judge(const Direction& d, size_t at, bool at_close) const;
  std::optional<size_t> scan_resync(Direction& d, bool at_close);

  Entry* find_or_create(uint32_t id, bool may_create);
  void touch(Entry& e, int side, uint64_t first_ts, uint64_t last_ts, uint64_t first_offset);
  void maybe_complete(Entry& e);
  void finish(Entry& e);  // moves the stream to done_ and forgets the entry
  void remember_closed(uint32_t id);

  void open_tap(Entry& e, int side);
  void taps_lost(int side);
  void note_hpack_unknown();  // every open stream's DATA of `side` may have lost bytes

  Limits limits_;
  DataTapFactory taps_;
  ParserStats stats_;
  Direction dirs_[2];  // 0 = client -> server, 1 = server -> client
  bool streams_uncertain_ = false;  // some stream starts may have been missed
  bool closed_ = false;
  std::optional<uint32_t> goaway_error_;  // the latest GOAWAY's error code

  std::unordered_map<uint32_t, Entry> open_;
  std::map<uint64_t, uint32_t> order_;  // creation sequence -> stream id
  uint64_t next_seq_ = 0;
  uint32_t max_id_[2] = {0, 0};  // highest stream id seen, [0] even (server-initiated), [1] odd
  std::deque<uint32_t> recent_order_;
  std::unordered_set<uint32_t> recent_;
  std::vector<Stream> done_;
};

}  // namespace spanwire::http2
