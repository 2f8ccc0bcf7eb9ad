// Base of the exporters that write one line per span to a stream (terminal,
// JSON lines, the trace view). Each line is written whole under a lock and
// flushed at once, so a reader (a person, tail -f, a pipe) never sees half a
// line and never waits for a buffer to fill.
#pragma once

#include <mutex>
#include <ostream>
#include <string>

#include "export/exporter.h"

namespace spanwire {

class LineExporter : public SpanExporter {
 public:
  explicit LineExporter(std::ostream& out) : out_(out) {}

  void consume(Span span) final { write_line(format_line(span)); }
  void flush(std::chrono::milliseconds) final {
    std::lock_guard lock(mutex_);
    out_.flush();
  }

 protected:
  // One span, without the newline.
  virtual std::string format_line(const Span& span) const = 0;
  void write_line(std::string line) {
    line += '\n';
    std::lock_guard lock(mutex_);
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
  }

 private:
  std::mutex mutex_;
  std::ostream& out_;
};

}  // namespace spanwire
