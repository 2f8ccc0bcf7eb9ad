// A client and a server talking HTTP/1 over one connection, seen through an
// ExchangeMatcher the way the sensor sees them: every chunk placed against the
// other direction with the kernel's byte counts, chunks dropped as a full ring
// buffer drops them, each loss learned only when the next chunk of its
// direction arrives (or at close, from the kernel's totals).
//
// Every response carries "X-Id: <n>" for request "/r<n>", so a test can tell a
// right pair from a wrong one. Header-only: used by a unit test and a fuzz target.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "http1/exchange_matcher.h"

namespace spanwire::testing {

struct ConversationShape {
  int exchanges = 100;
  int pipeline_depth = 1;  // requests written before their answers (1: one at a time)
  bool midstream = false;  // the sensor joined after the first chunk of each direction
};

// Decides, chunk by chunk, what happens: lost(), and how a message is cut
// (pieces() in 1..3). Lets the unit test use a seeded generator and the
// fuzz target its input bytes.
struct ChunkFate {
  std::function<bool()> lost;
  std::function<int()> pieces;
  std::function<int()> body_size;  // 0..~2000
  // Optional: whether chunks held behind a hole are let through now (asked at
  // each chunk of the other direction). Unset: a hole is known at once. The
  // sensor's stream buffer holds a direction's chunks behind a hole until it
  // gives up on the hole, while the other direction keeps flowing.
  std::function<bool()> release_held;
};

struct ConversationResult {
  std::vector<http1::Exchange> exchanges;
  http1::MatcherStats stats;
  int wrong_pairs = 0;     // a response paired with another request's exchange
  int false_no_answer = 0; // reported unanswered although its answer was sent
};

inline std::string conversation_request(int n, int body) {
  if (body == 0) return "GET /r" + std::to_string(n) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  return "POST /r" + std::to_string(n) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body) +
         "\r\n\r\n" + std::string(static_cast<size_t>(body), 'q');
}

inline int conversation_status(int n) {
  static const int kStatus[] = {200, 404, 500, 201};
  return kStatus[n % 4];
}

inline std::string conversation_response(int n, int body) {
  return "HTTP/1.1 " + std::to_string(conversation_status(n)) + " Reason\r\nX-Id: " + std::to_string(n) +
         "\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n" + std::string(static_cast<size_t>(body), 'x');
}

class LossyWire {
 public:
  LossyWire(http1::ExchangeMatcher& m, ChunkFate& fate) : m_(m), fate_(fate) {}

  void send(bool request, const std::string& message, uint64_t& ts) {
    const int pieces = fate_.pieces();
    size_t at = 0;
    for (int i = 0; i < pieces; ++i) {
      size_t n = (i + 1 == pieces) ? message.size() - at : (message.size() - at) / 2;
      chunk(request, message.substr(at, n), ++ts);
      at += n;
    }
  }

  void close(uint64_t ts) {  // the close event's totals reveal trailing losses
    release(0, ts);
    release(1, ts);
    // A direction joined mid-way and never seen: "maybe lost", as the stream buffer says it.
    if (!started_[0] && pos_[0] > 0) m_.gap_request(1, ts);
    if (!started_[1] && pos_[1] > 0) m_.gap_response(1, ts);
    if (lost_[0]) m_.gap_request(lost_[0], ts);
    if (lost_[1]) m_.gap_response(lost_[1], ts);
    m_.close(ts);
  }

  // The sensor joins after the first chunk of each direction moved: positions
  // count from the start, the streams from their first chunk seen.
  void join_late() {
    started_[0] = started_[1] = false;
    joined_ = true;
  }

 private:
  void chunk(bool request, const std::string& bytes, uint64_t ts) {
    const int d = request ? 0 : 1;
    const uint64_t pos = pos_[d];
    pos_[d] += bytes.size();
    if (bytes.empty()) return;
    if (!started_[d] && joined_) {  // a joined stream starts at its first chunk seen
      if (!skipped_[d] || fate_.lost()) {
        skipped_[d] = true;
        return;
      }
      start_[d] = pos;
      started_[d] = true;
    } else if (fate_.lost()) {
      lost_[d] += bytes.size();
      return;
    }
    started_[d] = true;
    const ChunkPlace place{pos, pos_[1 - d], start_[d]};
    // Placed on arrival, as the tracker places every chunk, delivered or held.
    request ? m_.place_request_chunk(place) : m_.place_response_chunk(place);
    if (fate_.release_held && fate_.release_held()) release(1 - d, ts);
    if (fate_.release_held && (lost_[d] > 0 || !held_[d].empty())) {
      held_[d].push_back({lost_[d], bytes});
      lost_[d] = 0;
      return;
    }
    deliver(d, lost_[d], bytes, ts);
    lost_[d] = 0;
  }

  struct Held {
    uint64_t lost_before;
    std::string bytes;
  };

  void deliver(int d, uint64_t lost_before, const std::string& bytes, uint64_t ts) {
    if (d == 0) {
      if (lost_before) m_.gap_request(lost_before, ts);
      m_.feed_request(bytes, ts);
    } else {
      if (lost_before) m_.gap_response(lost_before, ts);
      m_.feed_response(bytes, ts);
    }
  }

  void release(int d, uint64_t ts) {
    for (const Held& h : held_[d]) deliver(d, h.lost_before, h.bytes, ts);
    held_[d].clear();
  }

  http1::ExchangeMatcher& m_;
  ChunkFate& fate_;
  uint64_t pos_[2] = {0, 0};
  uint64_t start_[2] = {0, 0};
  uint64_t lost_[2] = {0, 0};  // lost since the last chunk seen
  bool started_[2] = {true, true};
  bool joined_ = false;
  bool skipped_[2] = {false, false};  // a late joiner missed the first chunk
  std::vector<Held> held_[2];         // chunks waiting behind a hole
};

// Plays the conversation and judges every exchange that came out.
inline ConversationResult play_conversation(const ConversationShape& shape, ChunkFate& fate) {
  http1::ExchangeMatcher matcher;
  LossyWire wire(matcher, fate);
  ConversationResult result;
  auto collect = [&] {
    for (http1::Exchange& ex : matcher.take_exchanges()) result.exchanges.push_back(std::move(ex));
  };
  uint64_t ts = 1000;
  if (shape.midstream) {
    wire.join_late();
    matcher.start_midstream();
  }
  const int depth = shape.pipeline_depth < 1 ? 1 : shape.pipeline_depth;
  for (int first = 0; first < shape.exchanges; first += depth) {
    const int last = std::min(shape.exchanges, first + depth);
    for (int n = first; n < last; ++n) {
      wire.send(true, conversation_request(n, n % 3 == 0 ? fate.body_size() : 0), ts);
    }
    collect();
    for (int n = first; n < last; ++n) wire.send(false, conversation_response(n, fate.body_size()), ts);
    collect();
  }
  wire.close(++ts);
  collect();
  result.stats = matcher.stats();
  for (const http1::Exchange& ex : result.exchanges) {
    if (!ex.response) {
      ++result.false_no_answer;  // every request of this conversation is answered
      continue;
    }
    // A head cut before X-Id still has its status line.
    const int n = std::stoi(ex.request.target.substr(2));
    const std::string* id = ex.response->header("x-id");
    const bool id_right = id != nullptr ? *id == std::to_string(n) : ex.response->head_cut;
    if (!id_right || ex.response->status_code != conversation_status(n)) ++result.wrong_pairs;
  }
  return result;
}

}  // namespace spanwire::testing
