// `spanwire trace`: the on-host debug view. One line per HTTP exchange, as
// aligned text for people or compact JSON for scripts.
#pragma once

#include <ostream>
#include <string>

#include "export/line_exporter.h"

namespace spanwire {

class TraceViewExporter final : public LineExporter {
 public:
  // In text mode the column header is printed once, here.
  TraceViewExporter(std::ostream& out, bool json);

  static std::string header();
  // One exchange, without the newline.
  static std::string text_line(const Span& span);
  static std::string json_line(const Span& span);

 protected:
  std::string format_line(const Span& span) const override { return json_ ? json_line(span) : text_line(span); }

 private:
  const bool json_;
};

}  // namespace spanwire
