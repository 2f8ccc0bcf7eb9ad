// Where finished spans go. The pipeline thread calls export_span() for every
// span; implementations must not block it for long (the OTLP exporter queues
// and sends from its own thread).
#pragma once

#include <chrono>

#include "span/span.h"

namespace spanwire {

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual void export_span(Span span) = 0;
  // The shutdown flush: sends or writes whatever is buffered, waiting at
  // most `timeout`. Nothing is retried after it starts: a failed send is
  // dropped and counted rather than waiting out a backoff.
  virtual void flush(std::chrono::milliseconds timeout) = 0;
};

}  // namespace spanwire
