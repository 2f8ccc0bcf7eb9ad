// The exchange -> span stage: resolves the process resource, builds the span
// and hands it to the exporter. Also applies the view filters of
// `spanwire trace` that the kernel cannot (ports).
#pragma once

#include <set>

#include "conn/connection_tracker.h"
#include "span/span_consumer.h"
#include "process/process_resources.h"
#include "span/span_builder.h"

namespace spanwire {

class Metrics;

class SpanAssembler : public ConnectionObserver {
 public:
  SpanAssembler(SpanBuilder& builder, ProcessResources& resources, SpanConsumer& next, Metrics& metrics)
      : builder_(builder), resources_(resources), next_(next), metrics_(metrics) {}

  // Only exchanges on connections with one of these local or remote ports (empty: all).
  void set_port_filter(std::set<uint16_t> ports) { ports_ = std::move(ports); }

  void on_connection_open(const ConnectionInfo& conn) override;
  void on_exchange(const ConnectionInfo& conn, ExchangeRecord&& record) override;
  void on_process_exit(uint32_t tgid) override { resources_.forget(tgid); }

 private:
  bool filtered_out(const ConnectionInfo& conn);

  SpanBuilder& builder_;
  ProcessResources& resources_;
  SpanConsumer& next_;
  Metrics& metrics_;
  std::set<uint16_t> ports_;
};

}  // namespace spanwire
