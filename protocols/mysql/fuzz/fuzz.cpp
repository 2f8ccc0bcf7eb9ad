// libFuzzer target: a MySQL/MariaDB session fed both directions of a
// connection in random pieces (tests/support/session_fuzz.h: no crash or
// growth, split independence), and no record may carry a quoted literal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mysql/counters.h"
#include "protocol_ids.h"
#include "support/session_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spanwire;
  fuzz::check_session(protocol_id::MYSQL, mysql::counter::resyncs, data, size, [](const ExchangeRecord& r) {
    const std::string text = string_attribute(r.attributes, "db.query.text");
    fuzz::check(text.find('\'') == std::string::npos && text.find('"') == std::string::npos, "no string literal");
  });
  return 0;
}
