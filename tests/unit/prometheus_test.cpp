#include "metrics/prometheus.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http1/counters.h"
#include "http2/counters.h"
#include "metrics/metrics.h"
#include "protocol_ids.h"

namespace spanwire {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

TEST(PrometheusTest, CounterHasHelpTypeAndValue) {
  Metrics m;
  m.spans_exported = 42;
  const std::string text = render_prometheus(m);
  EXPECT_TRUE(has_line(text, "# HELP spanwire_spans_exported_total spans the OTLP collector accepted"));
  EXPECT_TRUE(has_line(text, "# TYPE spanwire_spans_exported_total counter"));
  EXPECT_TRUE(has_line(text, "spanwire_spans_exported_total 42"));
  EXPECT_TRUE(has_line(text, "spanwire_events_received_total 0"));
}

TEST(PrometheusTest, GaugesHaveNoTotalSuffix) {
  Metrics m;
  m.ready = 1;
  m.export_queue_spans = 17;
  const std::string text = render_prometheus(m);
  EXPECT_TRUE(has_line(text, "# TYPE spanwire_ready gauge"));
  EXPECT_TRUE(has_line(text, "spanwire_ready 1"));
  EXPECT_TRUE(has_line(text, "spanwire_export_queue_spans 17"));
  EXPECT_TRUE(has_line(text, "# HELP spanwire_export_queue_spans spans waiting in the export queue"));
}

TEST(PrometheusTest, EveryCounterAndGaugeAppearsExactlyOnce) {
  Metrics m;
  const std::string text = render_prometheus(m);
  const auto lines = lines_of(text);
  auto count_prefix = [&lines](const std::string& prefix) {
    size_t n = 0;
    for (const auto& l : lines)
      if (l.rfind(prefix, 0) == 0) ++n;
    return n;
  };
  std::vector<std::string> names;
#define SPANWIRE_TEST_COUNTER(name, help) names.push_back("spanwire_" #name "_total");
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_TEST_COUNTER)
#undef SPANWIRE_TEST_COUNTER
#define SPANWIRE_TEST_GAUGE(name, help) names.push_back("spanwire_" #name);
  SPANWIRE_GAUGES(SPANWIRE_TEST_GAUGE)
#undef SPANWIRE_TEST_GAUGE
  ASSERT_GT(names.size(), 50u);
  for (const auto& name : names) {
    EXPECT_EQ(count_prefix(name + " "), 1u) << name;
    EXPECT_EQ(count_prefix("# HELP " + name + " "), 1u) << name;
    EXPECT_EQ(count_prefix("# TYPE " + name + " "), 1u) << name;
  }
}

TEST(PrometheusTest, ExportLatencyIsACumulativeHistogram) {
  Metrics m;
  m.export_latency.observe(0.003);
  m.export_latency.observe(0.005);  // on a boundary: counted in le="0.005"
  m.export_latency.observe(0.2);
  m.export_latency.observe(100);  // beyond the last bound
  const std::string text = render_prometheus(m);
  EXPECT_TRUE(has_line(text, "# TYPE spanwire_export_duration_seconds histogram"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_bucket{le=\"0.005\"} 2"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_bucket{le=\"0.01\"} 2"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_bucket{le=\"0.25\"} 3"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_bucket{le=\"1\"} 3"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_bucket{le=\"30\"} 3"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_bucket{le=\"+Inf\"} 4"));
  EXPECT_TRUE(has_line(text, "spanwire_export_duration_seconds_count 4"));
  std::smatch sum;
  ASSERT_TRUE(std::regex_search(text, sum, std::regex("\nspanwire_export_duration_seconds_sum (\\S+)\n")));
  EXPECT_NEAR(std::stod(sum[1]), 100.208, 1e-9);
}

TEST(PrometheusTest, ExportFailuresByReasonWithEscapedLabels) {
  Metrics m;
  m.export_failures.add("unavailable", 3);
  m.export_failures.add("http_503");
  m.export_failures.add("we\"ird\\reason\nhere");
  const std::string text = render_prometheus(m);
  EXPECT_TRUE(has_line(text, "# TYPE spanwire_export_failures_total counter"));
  EXPECT_TRUE(has_line(text, "spanwire_export_failures_total{reason=\"unavailable\"} 3"));
  EXPECT_TRUE(has_line(text, "spanwire_export_failures_total{reason=\"http_503\"} 1"));
  EXPECT_TRUE(has_line(text, "spanwire_export_failures_total{reason=\"we\\\"ird\\\\reason\\nhere\"} 1"));
}

// A counter name several protocols keep is one family, one series per protocol.
TEST(PrometheusTest, ProtocolCountersAreLabelledByProtocol) {
  Metrics m;
  m.protocols.of(protocol_id::HTTP1).add(http1::counter::parse_errors, 5);
  m.protocols.of(protocol_id::HTTP2).add(http2::counter::parse_errors, 7);
  m.protocols.of(protocol_id::HTTP2).add(http2::counter::frames, 2);
  const std::string text = render_prometheus(m);
  EXPECT_TRUE(has_line(text, "spanwire_parse_errors_total{protocol=\"http1\"} 5"));
  EXPECT_TRUE(has_line(text, "spanwire_parse_errors_total{protocol=\"http2\"} 7"));
  EXPECT_TRUE(has_line(text, "spanwire_frames_total{protocol=\"http2\"} 2"));
  EXPECT_EQ(text.find("spanwire_http1_parse_errors_total"), std::string::npos);
  // The JSON stats keep one flat key per protocol and counter.
  EXPECT_EQ(m.to_json()["http1_parse_errors"], 5);
  EXPECT_EQ(m.to_json()["http2_frames"], 2);
}

// Every line is a comment or a well-formed sample, each family declared once,
// samples of a family right after its TYPE line, and the text ends in a line feed.
TEST(PrometheusTest, OutputIsWellFormed) {
  Metrics m;
  m.export_failures.add("connect");
  m.export_latency.observe(0.5);
  const std::string text = render_prometheus(m);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"\})? \S+)");
  const std::regex type_line(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  std::set<std::string> families;
  std::string current;
  for (const auto& line : lines_of(text)) {
    std::smatch match;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, match, type_line)) {
      EXPECT_TRUE(families.insert(match[1]).second) << "declared twice: " << match[1];
      current = match[1];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, match, sample)) << line;
    const std::string name = match[1];
    EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum" ||
                name == current + "_count")
        << name << " outside its family " << current;
  }
}

}  // namespace
}  // namespace spanwire
