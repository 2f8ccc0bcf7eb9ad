// The end of the span chain (span/span_consumer.h): writes or sends spans out
// of the sensor (OTLP, the terminal, JSON lines, the trace view).
#pragma once

#include "span/span_consumer.h"

namespace spanwire {

class SpanExporter : public SpanConsumer {};

}  // namespace spanwire
