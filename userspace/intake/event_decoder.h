// Ring-buffer record -> typed kernel event -> connection tracker. Checks each
// record's size against its type so a malformed record is counted, not read
// past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>

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

 private:
  ConnectionTracker& tracker_;
  Metrics& metrics_;
  std::unordered_set<uint32_t> exited_;
};

}  // namespace spanwire
