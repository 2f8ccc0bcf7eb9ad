// How a request/answer session takes what its two readers framed: in order,
// acting on each loss of sync before the first message framed after it
// (messages framed before a loss are paired first), so that how the bytes
// were split never changes what is paired. Messages carry `losses_before`
// (the reader's resyncs when they began); `seen` holds the losses of each
// reader already acted on; `lose` must bring seen[1] up to date (it forces
// the answer reader out of sync). `stop` ends the draining early (a session
// that stopped reading, e.g. waiting for TLS).
#pragma once

#include <cstdint>
#include <utility>

namespace spanwire {

template <class Requests, class Answers, class OnRequest, class OnAnswer, class Lose, class Stop>
void drain_in_order(Requests& requests, Answers& answers, uint64_t (&seen)[2], OnRequest&& on_request,
                    OnAnswer&& on_answer, Lose&& lose, Stop&& stop) {
  for (auto& m : requests.take()) {
    if (m.losses_before > seen[0]) {
      seen[0] = m.losses_before;
      lose();
    }
    on_request(std::move(m));
    if (stop()) return;
  }
  for (auto& m : answers.take()) {
    if (m.losses_before > seen[1]) lose();
    on_answer(std::move(m));
    if (stop()) return;
  }
  if (requests.stats().resyncs > seen[0]) {
    seen[0] = requests.stats().resyncs;
    lose();
  }
  if (answers.stats().resyncs > seen[1]) lose();
}

}  // namespace spanwire
