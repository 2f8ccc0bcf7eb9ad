// Builds the chain of span outputs `spanwire run` and `spanwire trace` write
// to, from the configuration: OTLP (gRPC or HTTP) or the terminal, plus an
// optional JSON-lines file.
#pragma once

#include <fstream>
#include <memory>
#include <vector>

#include "config/config.h"
#include "export/exporter.h"
#include "metrics/metrics.h"

namespace spanwire {

// Sends every span to several exporters.
class FanOutExporter final : public SpanExporter {
 public:
  void add(std::unique_ptr<SpanExporter> e) { exporters_.push_back(std::move(e)); }
  void consume(Span span) override;
  void flush(std::chrono::milliseconds timeout) override;
  void end_of_pass() override;
  bool empty() const { return exporters_.empty(); }

 private:
  std::vector<std::unique_ptr<SpanExporter>> exporters_;
};

struct ExportChain {
  // Declared first, so destroyed last: it outlives the exporter writing to it.
  std::unique_ptr<std::ofstream> json_file;
  FanOutExporter exporter;
};

enum class OutputMode { kRun, kTraceLines, kTraceJson };

// Throws std::invalid_argument (one line) on settings that cannot work, e.g.
// an unreadable certificate or an unwritable --json-out file.
std::unique_ptr<ExportChain> build_export_chain(const Config& config, OutputMode mode, Metrics& metrics);

}  // namespace spanwire
