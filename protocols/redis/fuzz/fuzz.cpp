// libFuzzer target: a Redis session fed both directions of a connection in
// random pieces (tests/support/session_fuzz.h: no crash or growth, split
// independence), and no record may echo an argument: db.query.text is the
// command name followed only by "?" placeholders.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol_ids.h"
#include "redis/counters.h"
#include "support/session_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spanwire;
  fuzz::check_session(protocol_id::REDIS, redis::counter::resyncs, data, size, [](const ExchangeRecord& r) {
    const std::string text = string_attribute(r.attributes, "db.query.text");
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ' ')
        fuzz::check(i + 1 < text.size() && (text[i + 1] == '?' || text.compare(i, 4, " ...") == 0),
                    "arguments are never echoed");
    }
  });
  return 0;
}
