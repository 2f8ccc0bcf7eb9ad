#include "cli/pipeline_stages.h"

namespace spanwire {

PipelineStages::PipelineStages(const Config& config, SpanExporter& exporter, Metrics& metrics_,
                               PeerNamer::Lookup service_of_ip)
    : metrics(metrics_),
      builder(clock, ids),
      resources("/proc", {config.service_name, config.resource_attributes}),
      sampler(exporter, metrics, config.sampling),
      red(config.metrics_max_series, metrics),
      red_tap(red, sampler),
      linker(red_tap, metrics,
             {.window_ns = uint64_t(config.link_window_ms) * 1'000'000,
              .release_decided_at_once = sampler.judges_decided_spans_alone()}),
      peer_namer(std::move(service_of_ip), linker),
      assembler(builder, resources, peer_namer, metrics),
      tracker({}, metrics, assembler, ProtocolSettings{{}, UrlRedaction(config.redact_query_params)}),
      decoder(tracker, metrics) {
  resources.set_selection(config.selection);
  assembler.set_port_filter(config.ports);
}

void PipelineStages::tick(uint64_t now) {
  tracker.tick(now);
  // The sampler first: the spans the linker releases then meet the same clock.
  sampler.tick(now);
  linker.tick(now);
  metrics.connections_tracked = tracker.size();
  metrics.spans_held_linker = linker.held();
  metrics.spans_held_sampler = sampler.held();
}

}  // namespace spanwire
