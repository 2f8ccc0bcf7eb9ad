#include "export/trace_view.h"

#include <cmath>
#include <ctime>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "export/json_exporter.h"
#include "export/terminal_exporter.h"

namespace spanwire {

namespace {

// Columns: the path goes last because it is the only unbounded one.
constexpr std::string_view kRow = "{:<12} {:>7} {:<15} {:<6} {:<7} {:>6} {:>10} {:>9} {:>9} {:<21} {}";

std::string_view role(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer: return "server";
    case SpanKind::kClient: return "client";
    case SpanKind::kInternal: return "internal";
    case SpanKind::kUnspecified: break;
  }
  return "-";
}

std::string or_dash(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "-"; }

nlohmann::ordered_json or_null(const std::optional<int64_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// RFC 3339 in local time with milliseconds and a numeric offset, matching the
// clock the text view shows.
std::string rfc3339_local(uint64_t unix_ns) {
  const auto seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm local{};
  localtime_r(&seconds, &local);
  const long offset_min = local.tm_gmtoff / 60;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}{:02}:{:02}", local.tm_year + 1900,
                     local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                     (unix_ns / 1'000'000) % 1000, offset_min < 0 ? '-' : '+', std::labs(offset_min) / 60,
                     std::labs(offset_min) % 60);
}

std::string comm_of(const Span& span) { return span.resource != nullptr ? span.resource->comm : std::string(); }
uint32_t pid_of(const Span& span) { return span.resource != nullptr ? span.resource->pid : 0; }

}  // namespace

TraceViewExporter::TraceViewExporter(std::ostream& out, bool json) : LineExporter(out), json_(json) {
  if (!json_) write_line(header());
}

std::string TraceViewExporter::header() {
  return fmt::format(kRow, "TIME", "PID", "COMM", "ROLE", "METHOD", "STATUS", "LATENCY_MS", "REQ_BYTES",
                     "RESP_BYTES", "PEER", "PATH");
}

std::string TraceViewExporter::text_line(const Span& span) {
  const ExchangeSummary e = summarize(span);
  const std::string peer = format_endpoint(span, "network.peer.address", "network.peer.port");
  return fmt::format(kRow, format_clock_time(span.start_unix_ns), pid_of(span), printable(comm_of(span)),
                     role(span.kind), e.operation.empty() ? "-" : printable(e.operation),
                     e.status ? std::to_string(*e.status) : (e.outcome.empty() ? "-" : printable(e.outcome)),
                     fmt::format("{:.2f}", duration_ms(span)), or_dash(e.request_bytes), or_dash(e.response_bytes),
                     peer.empty() ? "-" : printable(peer), e.target.empty() ? "-" : printable(e.target));
}

std::string TraceViewExporter::json_line(const Span& span) {
  nlohmann::ordered_json j;
  j["time"] = rfc3339_local(span.start_unix_ns);
  j["pid"] = pid_of(span);
  j["comm"] = comm_of(span);
  j["role"] = role(span.kind);
  const ExchangeSummary e = summarize(span);
  j["method"] = e.operation;
  j["path"] = e.target;
  j["status"] = or_null(e.status);
  j["latency_ms"] = std::round(duration_ms(span) * 100) / 100;
  j["request_bytes"] = or_null(e.request_bytes);
  j["response_bytes"] = or_null(e.response_bytes);
  j["peer"] = format_endpoint(span, "network.peer.address", "network.peer.port");
  j["trace_id"] = to_hex(span.trace_id);
  j["span_id"] = to_hex(span.span_id);
  return to_json_line(j);
}

}  // namespace spanwire
