// Ring-buffer record -> typed kernel event -> connection tracker. Checks each
// record's size against its type so a malformed record is counted, not read
// past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <utility>

namespace spanwire {

class ConnectionTracker;
class Metrics;

class EventDecoder {
 public:
  EventDecoder(ConnectionTracker& tracker, Metrics& metrics) : tracker_(tracker), metrics_(metrics) {}

  // `now` is the monotonic time of the ring-buffer read.
  void handle(const void* data, size_t size, uint64_t now);

  // Processes that exited since the last call (their kernel state can be swept).
  std::unordered_set<uint32_t> take_exited();
  // Processes that called execve since the last call (they may bring TLS libraries).
  std::unordered_set<uint32_t> take_execs() { return std::exchange(execs_, {}); }

 private:
  ConnectionTracker& tracker_;
  Metrics& metrics_;
  std::unordered_set<uint32_t> exited_;
  std::unordered_set<uint32_t> execs_;
};

}  // namespace spanwire
