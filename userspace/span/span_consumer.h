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
  // The pipeline finished one pass over the kernel's events. A stage that
  // gathers the spans of a pass to hand them on together (the OTLP exporter:
  // one lock of its queue per pass, not per span) hands them on now; a
  // processor passes the call down the chain.
  virtual void end_of_pass() {}
};

// A stage that passes every span it keeps on to `next`.
class SpanProcessor : public SpanConsumer {
 public:
  explicit SpanProcessor(SpanConsumer& next) : next_(next) {}
  // Processors that hold nothing flush the rest of the chain.
  void flush(std::chrono::milliseconds timeout) override { next_.flush(timeout); }
  void end_of_pass() override { next_.end_of_pass(); }

 protected:
  SpanConsumer& next_;
};

}  // namespace spanwire
