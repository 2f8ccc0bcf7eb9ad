#include "config/config.h"

#include <stdexcept>

#include "export/otlp_grpc_exporter.h"

namespace spanwire {

void apply_environment(Config& config, const char* (*getenv_fn)(const char*)) {
  for (const char* name : {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}) {
    const char* v = getenv_fn(name);
    if (v != nullptr && *v != '\0') {
      config.otlp_endpoint = v;
      return;
    }
  }
}

void validate(const Config& c) {
  if (c.payload_cap == 0 || c.payload_cap > 32704)
    throw std::invalid_argument("--payload-cap must be between 1 and 32704 bytes");
  uint32_t rb = c.ringbuf_bytes;
  if (rb < 4096 || (rb & (rb - 1)) != 0)
    throw std::invalid_argument("--ringbuf-size must be a power of two of at least 4096 bytes (e.g. 16777216)");
  if (c.batch_size == 0) throw std::invalid_argument("--batch-size must be at least 1");
  if (c.max_queue_size < c.batch_size)
    throw std::invalid_argument("--max-queue-size must be at least --batch-size");
  // Throws std::invalid_argument with a message that names the accepted forms.
  if (!c.otlp_endpoint.empty()) parse_otlp_endpoint(c.otlp_endpoint);
}

}  // namespace spanwire
