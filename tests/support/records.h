// Record sinks for tests and benchmarks of protocol sessions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/exchange_record.h"

namespace spanwire::testing {

struct CollectedRecords : RecordSink {
  void record(ExchangeRecord&& r) override { records.push_back(std::move(r)); }
  std::vector<ExchangeRecord> records;
};

inline std::string text(const ExchangeRecord& r, std::string_view key) { return string_attribute(r.attributes, key); }

}  // namespace spanwire::testing
