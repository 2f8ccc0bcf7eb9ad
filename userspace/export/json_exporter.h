// Writes spans as JSON lines (one object per line) for files and pipes.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "export/line_exporter.h"

namespace spanwire {

class JsonExporter final : public LineExporter {
 public:
  explicit JsonExporter(std::ostream& out) : LineExporter(out) {}

  // The object for one span; keys in a fixed, readable order.
  static nlohmann::ordered_json to_json(const Span& span);

 protected:
  std::string format_line(const Span& span) const override;
};

// Strings, integers, booleans and doubles as their JSON counterparts.
nlohmann::ordered_json attributes_to_json(const std::vector<Attribute>& attributes);
// Compact one-line JSON, without the newline. Captured text may not be
// UTF-8; bad bytes become U+FFFD instead of making the dump throw.
std::string to_json_line(const nlohmann::ordered_json& object);

}  // namespace spanwire
