// Prints one human-readable line per span, for watching a host live.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "export/line_exporter.h"

namespace spanwire {

// Formatting shared by the human-readable views (terminal and trace view).
// "HH:MM:SS.mmm" in the local time zone.
std::string format_clock_time(uint64_t unix_ns);
// "address:port" from two span attributes; just the address when the port
// is absent, "" when the address is.
std::string format_endpoint(const Span& span, std::string_view address_key, std::string_view port_key);
// Captured text with control characters shown as \xNN, so that traffic
// cannot drive the terminal (escape sequences, carriage returns).
std::string printable(std::string_view text);
// (end - start) in milliseconds; 0 if the clock went backwards.
double duration_ms(const Span& span);
// The one-line summary of the span's exchange, from its protocol module.
ExchangeSummary summarize(const Span& span);

class TerminalExporter final : public LineExporter {
 public:
  explicit TerminalExporter(std::ostream& out) : LineExporter(out) {}

  // The line consume() prints, without the newline.
  static std::string format(const Span& span);

 protected:
  std::string format_line(const Span& span) const override { return format(span); }
};

}  // namespace spanwire
