// What is known about one traced connection: identity, tuple, role.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/connection_facts.h"

namespace spanwire {

struct ConnKey {
  uint32_t tgid = 0;
  int32_t fd = 0;
  uint64_t start_ns = 0;  // fd numbers are reused: the kernel stamps each connection
  bool operator==(const ConnKey&) const = default;
};

struct ConnKeyHash {
  size_t operator()(const ConnKey& k) const {
    return std::hash<uint64_t>()(k.start_ns) ^ (std::hash<uint64_t>()((uint64_t(k.tgid) << 32) | uint32_t(k.fd)) << 1);
  }
};

// Which thread moved which bytes of one stream: (offset, tid) where the thread
// changes, the most recent kThreadTrailLength of them.
class ThreadTrail {
 public:
  static constexpr size_t kThreadTrailLength = 32;
  void note(uint64_t offset, uint32_t tid);
  // The thread that moved the byte at `offset`; 0 when unknown.
  uint32_t at(uint64_t offset) const;

 private:
  struct Mark {
    uint64_t offset;
    uint32_t tid;
  };
  std::vector<Mark> marks_;  // ascending offsets
};

// The ids the kernel decided for the request starting at one stream
// position (SW_EV_CONTEXT): what may have gone on the wire, to be exported as is.
struct DecidedContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  std::array<uint8_t, 8> parent_id{};  // all zero: a root
  uint8_t source = 0;       // enum sw_context_source
  uint8_t flags = 0;        // SW_CTX_*
  uint8_t trace_flags = 1;  // W3C flags
};

// The value last noted for each key, for the most recent kLength keys (the
// oldest key leaves first). Few keys: scanned in full. Once full, the oldest
// slot is overwritten in turn (a ring), so a note on a busy keep-alive
// connection moves nothing; the keys sit apart from the values, so the scan
// reads a few cache lines. Both grow as keys come: an idle connection holds none.
template <class Key, class Value, size_t kLength>
class LatestByKey {
 public:
  void note(Key key, const Value& value) {
    if (Value* known = find_mutable(key)) {
      *known = value;
      return;
    }
    if (keys_.size() < kLength) {
      keys_.push_back(key);
      values_.push_back(value);
      return;
    }
    keys_[oldest_] = key;
    values_[oldest_] = value;
    oldest_ = (oldest_ + 1) % kLength;
  }
  const Value* find(Key key) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] == key) return &values_[i];
    return nullptr;
  }

 private:
  Value* find_mutable(Key key) { return const_cast<Value*>(std::as_const(*this).find(key)); }
  std::vector<Key> keys_;      // a key appears once
  std::vector<Value> values_;  // values_[i] belongs to keys_[i]
  size_t oldest_ = 0;          // once full: the slot noted longest ago
};

// Decided contexts of one stream by request position, the most recent
// kDecidedContextLength of them (a connection has few requests in flight).
class DecidedContexts {
 public:
  static constexpr size_t kDecidedContextLength = 64;
  void note(uint64_t offset, const DecidedContext& context) { latest_.note(offset, context); }
  const DecidedContext* at(uint64_t offset) const { return latest_.find(offset); }

 private:
  LatestByKey<uint64_t, DecidedContext, kDecidedContextLength> latest_;
};

// Which thread (a goroutine token) runs the handler of each multiplexed
// stream (SW_EV_GO_STREAM), the most recent kStreamHandlerLength of them.
class StreamHandlers {
 public:
  static constexpr size_t kStreamHandlerLength = 256;  // HTTP/2 servers allow 100-250 concurrent streams
  void note(uint32_t stream, uint32_t tid) { latest_.note(stream, tid); }
  uint32_t at(uint32_t stream) const {  // 0 when unknown
    const uint32_t* tid = latest_.find(stream);
    return tid ? *tid : 0;
  }

 private:
  LatestByKey<uint32_t, uint32_t, kStreamHandlerLength> latest_;
};

// What the kernel told about one stream of a connection beyond its bytes.
struct StreamFacts {
  // TCP sequence number of stream offset X = seq_minus_pos + X (mod 2^32): the
  // same number on both ends of the connection.
  bool has_seq = false;
  uint32_t seq_minus_pos = 0;
  // The kernel position of the session's offset 0: where the sensor began
  // to deliver this stream (not 0 when joined mid-way after bytes moved).
  uint64_t origin = 0;
  ThreadTrail threads;
  DecidedContexts contexts;
  StreamHandlers handlers;  // requests stream only
};

// The facts a protocol module sees (ends, role, TLS), and the sensor's own.
struct ConnectionInfo : ConnectionFacts {
  ConnKey key;
  uint8_t protocol = 0;    // enum sw_protocol
  bool midstream = false;  // the socket predates the sensor
  std::string comm;        // process name
  // [0]: the client -> server stream (requests), [1]: server -> client.
  StreamFacts streams[2];
};

}  // namespace spanwire
