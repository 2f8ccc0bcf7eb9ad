#include "cli/exporters.h"

#include <cstring>
#include <iostream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "export/json_exporter.h"
#include "export/otlp_span_exporter.h"
#include "export/terminal_exporter.h"
#include "export/trace_view.h"

namespace spanwire {

void FanOutExporter::consume(Span span) {
  for (size_t i = 0; i + 1 < exporters_.size(); ++i) exporters_[i]->consume(span);
  if (!exporters_.empty()) exporters_.back()->consume(std::move(span));
}

void FanOutExporter::flush(std::chrono::milliseconds timeout) {
  for (auto& e : exporters_) e->flush(timeout);
}

void FanOutExporter::end_of_pass() {
  for (auto& e : exporters_) e->end_of_pass();
}

std::unique_ptr<ExportChain> build_export_chain(const Config& config, OutputMode mode, Metrics& metrics) {
  auto chain = std::make_unique<ExportChain>();
  if (mode != OutputMode::kRun) {
    chain->exporter.add(std::make_unique<TraceViewExporter>(std::cout, mode == OutputMode::kTraceJson));
    return chain;
  }
  if (!config.traces.endpoint.empty()) {
    OtlpSpanExporter::Options o;
    o.max_batch_size = config.batch_size;
    o.batch_timeout = config.batch_timeout;
    o.max_queue_size = config.max_queue_size;
    o.max_queue_bytes = config.max_queue_bytes;
    o.retry.initial = config.retry_initial;
    o.retry.max_interval = config.retry_max_interval;
    o.retry.max_elapsed = config.retry_max_elapsed;
    o.consumers = config.export_consumers;
    auto make_transport = [&config] { return make_otlp_transport(config.traces); };
    spdlog::info("exporting spans to {} ({} calls in flight at most)", make_transport()->describe(), o.consumers);
    chain->exporter.add(std::make_unique<OtlpSpanExporter>(make_transport, o, metrics));
  } else if (config.json_out != "-") {
    chain->exporter.add(std::make_unique<TerminalExporter>(std::cout));
    spdlog::info("no OTLP endpoint configured (--otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT): printing spans");
  }
  if (config.json_out == "-") {
    chain->exporter.add(std::make_unique<JsonExporter>(std::cout));
  } else if (!config.json_out.empty()) {
    chain->json_file = std::make_unique<std::ofstream>(config.json_out, std::ios::app);
    if (!*chain->json_file)
      throw std::invalid_argument("cannot open --json-out file " + config.json_out + ": " + std::strerror(errno));
    chain->exporter.add(std::make_unique<JsonExporter>(*chain->json_file));
  }
  return chain;
}

}  // namespace spanwire
