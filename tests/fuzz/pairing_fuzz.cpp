// libFuzzer target: an HTTP/1 conversation whose chunks are lost as the input
// says (the stalled-consumer case: a full ring buffer drops events), played
// through an ExchangeMatcher with the kernel's positions. Whatever is lost, no
// exchange may pair a response with another request, and no request whose
// answer was sent may be reported unanswered.
//
// Input layout: byte 0 pipeline depth (1 + b % 8), byte 1 flags (1 = the sensor
// joins mid-stream, 2 = a hole is learned late: chunks behind it wait while the
// other direction flows, as in the sensor's stream buffer), then one byte per
// decision: a chunk is lost when the byte is below 32, held chunks are let
// through when it is below 64; pieces per message and body sizes come from the
// same bytes.
#include <cstddef>
#include <cstdint>

#include "support/lossy_conversation.h"
#include "support/fuzz_support.h"

namespace {

class InputFate {
 public:
  InputFate(const uint8_t* data, size_t size, bool holes_learned_late) : data_(data), size_(size) {
    fate.lost = [this] { return next() < 32; };
    if (holes_learned_late) fate.release_held = [this] { return next() < 64; };
    fate.pieces = [this] { return 1 + next() % 3; };
    fate.body_size = [this] { return next() * 8; };
  }
  spanwire::testing::ChunkFate fate;

 private:
  int next() { return at_ < size_ ? data_[at_++] : 255; }  // past the input: nothing lost
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  spanwire::testing::ConversationShape shape;
  shape.exchanges = 60;
  shape.pipeline_depth = 1 + data[0] % 8;
  shape.midstream = (data[1] & 1) != 0;
  InputFate input(data + 2, size - 2, (data[1] & 2) != 0);
  spanwire::testing::ConversationResult r = spanwire::testing::play_conversation(shape, input.fate);
  spanwire::fuzz::check(r.wrong_pairs == 0, "a response paired with another request");
  spanwire::fuzz::check(r.false_no_answer == 0, "a request reported unanswered although answered");
  return 0;
}
