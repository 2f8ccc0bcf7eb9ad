// Export throughput for scripts/bench.sh: offers spans at a fixed rate to the
// real OtlpSpanExporter, sending OTLP/gRPC to a collector (otlp_sink with
// --answer-delay-ms for a slow one), then flushes and prints one JSON line:
// what was offered, exported and dropped, and the rate it kept up.
//   export_throughput ENDPOINT RATE SECONDS CONSUMERS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "export/otlp_span_exporter.h"
#include "export/otlp_transport.h"
#include "metrics/metrics.h"

using namespace spanwire;
using Clock = std::chrono::steady_clock;

namespace {

// An HTTP server span with the attributes a real one carries.
Span http_span(uint64_t i, const std::shared_ptr<const Resource>& resource) {
  Span s;
  s.trace_id.fill(static_cast<uint8_t>(i));
  s.span_id.fill(static_cast<uint8_t>(i >> 8));
  s.name = "GET /api/orders/{id}";
  s.kind = SpanKind::kServer;
  s.start_unix_ns = 1'700'000'000'000'000'000ULL + i * 1000;
  s.end_unix_ns = s.start_unix_ns + 250'000;
  s.resource = resource;
  s.attributes = {{"http.request.method", std::string("GET")},
                  {"url.path", std::string("/api/orders/" + std::to_string(i % 1000))},
                  {"url.scheme", std::string("http")},
                  {"http.route", std::string("/api/orders/{id}")},
                  {"http.response.status_code", int64_t{200}},
                  {"network.protocol.version", std::string("1.1")},
                  {"network.peer.address", std::string("10.0.3.17")},
                  {"network.peer.port", int64_t{48712}},
                  {"network.local.port", int64_t{8080}},
                  {"user_agent.original", std::string("python-requests/2.28.1")},
                  {"http.response.body.size", int64_t{612}}};
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: export_throughput ENDPOINT RATE SECONDS CONSUMERS\n");
    return 2;
  }
  const std::string endpoint = argv[1];
  const double rate = std::atof(argv[2]), seconds = std::atof(argv[3]);
  const size_t consumers = std::strtoul(argv[4], nullptr, 10);
  if (rate <= 0 || seconds <= 0 || consumers == 0) {
    std::fprintf(stderr, "export_throughput: RATE, SECONDS and CONSUMERS must be positive\n");
    return 2;
  }
  OtlpSettings settings;
  settings.endpoint = endpoint;
  settings.protocol = OtlpProtocol::kGrpc;
  settings.insecure = true;
  Metrics metrics;
  OtlpSpanExporter::Options options;  // the sensor's defaults, but for the consumers
  options.consumers = consumers;
  auto resource = std::make_shared<Resource>();
  resource->pid = 4242;
  resource->attributes = {{"service.name", std::string("orders")}, {"process.pid", int64_t{4242}}};

  const uint64_t total = static_cast<uint64_t>(rate * seconds);
  const auto start = Clock::now();
  {
    OtlpSpanExporter exporter([&] { return make_otlp_transport(settings); }, options, metrics);
    // Offered in 1 ms steps at the fixed rate, like a pipeline releasing spans.
    uint64_t offered = 0;
    while (offered < total) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const uint64_t due = std::min<uint64_t>(total, static_cast<uint64_t>(elapsed * rate) + 1);
      for (; offered < due; ++offered) exporter.consume(http_span(offered, resource));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    exporter.flush(std::chrono::seconds(60));
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"offered\": %llu, \"exported\": %llu, \"dropped_queue_full\": %llu, \"dropped_failed\": %llu, "
              "\"batches\": %llu, \"seconds\": %.3f, \"exported_per_s\": %.0f}\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(metrics.spans_exported.load()),
              static_cast<unsigned long long>(metrics.spans_dropped_queue_full.load()),
              static_cast<unsigned long long>(metrics.spans_dropped_export_failed.load()),
              static_cast<unsigned long long>(metrics.export_batches.load()), took,
              static_cast<double>(metrics.spans_exported.load()) / took);
  return 0;
}
