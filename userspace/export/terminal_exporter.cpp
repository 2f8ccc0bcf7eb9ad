#include "export/terminal_exporter.h"

#include <ctime>

#include <fmt/format.h>

namespace spanwire {

std::string format_clock_time(uint64_t unix_ns) {
  const auto seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  const auto millis = (unix_ns / 1'000'000) % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", local.tm_hour, local.tm_min, local.tm_sec, millis);
}

std::string format_endpoint(const Span& span, std::string_view address_key, std::string_view port_key) {
  std::string address = span.string_attr(address_key);
  if (address.empty()) return {};
  if (address.find(':') != std::string::npos) address = "[" + address + "]";  // IPv6
  if (span.find(port_key) == nullptr) return address;
  return fmt::format("{}:{}", address, span.int_attr(port_key));
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f)
      out += fmt::format("\\x{:02x}", b);
    else
      out += c;
  }
  return out;
}

ExchangeSummary summarize(const Span& span) {
  return span.semconv != nullptr ? span.semconv->summarize(span.attributes) : ExchangeSummary{};
}

double duration_ms(const Span& span) {
  if (span.end_unix_ns < span.start_unix_ns) return 0;
  return static_cast<double>(span.end_unix_ns - span.start_unix_ns) / 1e6;
}

namespace {

std::string_view kind_label(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer: return "SERVER";
    case SpanKind::kClient: return "CLIENT";
    case SpanKind::kInternal: return "INTERNAL";
    case SpanKind::kUnspecified: break;
  }
  return "UNSPECIFIED";
}

std::string process_label(const Span& span) {
  if (span.resource == nullptr) return "?";
  const auto& r = *span.resource;
  return fmt::format("{}[{}]", printable(r.comm.empty() ? r.service_name : r.comm), r.pid);
}

// The protocol's own outcome (HTTP status, gRPC status, database code), or "-".
std::string outcome(const Span& span) {
  std::string out = summarize(span).outcome;
  if (out.empty()) out = "-";
  if (span.status == StatusCode::kError) {
    out += " ERROR";
    if (!span.status_message.empty()) out += ": " + printable(span.status_message);
  }
  return out;
}

// For a server span: who called -> where it was served. For a client span the
// peer is the server itself, shown only when it differs from server.address.
std::string addresses(const Span& span) {
  const std::string peer = format_endpoint(span, "network.peer.address", "network.peer.port");
  const std::string server = format_endpoint(span, "server.address", "server.port");
  if (span.kind == SpanKind::kServer) {
    if (peer.empty() && server.empty()) return {};
    return printable(fmt::format("{} -> {}", peer.empty() ? "?" : peer, server.empty() ? "?" : server));
  }
  if (server.empty()) return peer.empty() ? std::string() : printable("-> " + peer);
  if (peer.empty() || peer == server) return printable("-> " + server);
  return printable(fmt::format("-> {} ({})", server, peer));
}

}  // namespace

std::string TerminalExporter::format(const Span& span) {
  std::string line = fmt::format("{} {} {} {} -> {}  {:.2f}ms", format_clock_time(span.start_unix_ns),
                                 kind_label(span.kind), process_label(span), printable(span.name),
                                 outcome(span), duration_ms(span));
  if (const std::string where = addresses(span); !where.empty()) line += "  " + where;
  line += fmt::format("  trace={} span={}", to_hex(span.trace_id).substr(0, 8), to_hex(span.span_id).substr(0, 8));
  if (span.has_parent()) line += " parent=" + to_hex(span.parent_span_id).substr(0, 8);
  return line;
}

}  // namespace spanwire
