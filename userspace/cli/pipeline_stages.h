// The stages every kernel event passes through, built in the order of the
// data path: decoder -> connection tracker -> span assembler (builder,
// process resources, peer namer) -> trace linker -> RED metrics -> sampler
// -> exporter. run_pipeline drives them with the kernel's events; the
// pipeline benchmark drives the same object with canned ones, so what it
// measures is what the sensor runs.
#pragma once

#include <cstdint>

#include "config/config.h"
#include "conn/connection_tracker.h"
#include "export/exporter.h"
#include "intake/event_decoder.h"
#include "metrics/metrics.h"
#include "metrics/red_metrics.h"
#include "process/process_resources.h"
#include "span/clock.h"
#include "span/peer_namer.h"
#include "span/span_assembler.h"
#include "span/span_builder.h"
#include "span/trace_linker.h"
#include "span/trace_sampler.h"

namespace spanwire {

struct PipelineStages {
  // `service_of_ip` names peers (Kubernetes Services); empty outside a cluster.
  PipelineStages(const Config& config, SpanExporter& exporter, Metrics& metrics, PeerNamer::Lookup service_of_ip);
  PipelineStages(const PipelineStages&) = delete;
  PipelineStages& operator=(const PipelineStages&) = delete;

  // The periodic work of the stages that hold state in time, and their gauges.
  void tick(uint64_t now);
  // One pass over the kernel's events is done: stages that gather a pass's
  // spans hand them on (span_consumer.h).
  void end_of_pass() { peer_namer.end_of_pass(); }

  // Declared (so built) from the end of the chain back to its start: each
  // stage holds a reference to the next one.
  Metrics& metrics;
  MonotonicToUnix clock;
  IdGenerator ids;
  SpanBuilder builder;
  ProcessResources resources;
  TraceSampler sampler;
  RedMetrics red;
  RedMetricsTap red_tap;
  TraceLinker linker;
  PeerNamer peer_namer;
  SpanAssembler assembler;
  ConnectionTracker tracker;
  EventDecoder decoder;
};

}  // namespace spanwire
