// The span chain after the builder: each stage takes spans one at a time.
// Processors (peer naming, linking, RED metrics, sampling) do their one job
// on a span and pass it on to the next consumer; exporters (export/exporter.h)
// end the chain by writing or sending it out of the sensor.
//
// consume() runs on the pipeline thread and must not block it for long (the
// OTLP exporter queues and sends from its own thread).
#pragma once

#include <chrono>

#include "span/span.h"

namespace spanwire {

class SpanConsumer {
 public:
  virtual ~SpanConsumer() = default;
  virtual void consume(Span span) = 0;
  // The shutdown flush: everything held or buffered goes on (or out),
  // waiting at most `timeout`. Nothing is retried after it starts: a failed
  // send is dropped and counted rather than waiting out a backoff.
  virtual void flush(std::chrono::milliseconds timeout) = 0;
};

// A stage that passes every span it keeps on to `next`.
class SpanProcessor : public SpanConsumer {
 public:
  explicit SpanProcessor(SpanConsumer& next) : next_(next) {}
  // Processors that hold nothing flush the rest of the chain.
  void flush(std::chrono::milliseconds timeout) override { next_.flush(timeout); }

 protected:
  SpanConsumer& next_;
};

}  // namespace spanwire
