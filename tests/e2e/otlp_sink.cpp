// otlp_sink: a real OTLP/gRPC trace receiver for end-to-end tests. It serves
// opentelemetry.proto.collector.trace.v1.TraceService with our generated
// code and appends every received span as one JSON line, so tests can check
// exactly what a collector would have got.
//
//   otlp_sink --listen 127.0.0.1:0 --out spans.jsonl [--status-file status.json]
//             [--tls-cert cert.pem --tls-key key.pem] [--require-header key=value]
//             [--fail-first N] [--answer-delay-ms MS]
//
// --require-header answers UNAUTHENTICATED to calls without that metadata;
// --fail-first answers UNAVAILABLE to the first N calls (a collector that is
// restarting), so tests can check that the sensor retries; --answer-delay-ms
// holds every call that long (a hung collector), for shutdown tests.
//
// With --out /dev/null and no answer delay (the benchmarks' collector) the
// sink only counts: spans are counted on the wire, never decoded. Decoding
// every span cost this process more CPU than the sensor's own threads while
// the benchmarks measured what tracing costs nginx on the same two cores.
//
// Prints "listening <host>:<port>" once on stdout when ready; logs go to
// stderr. Stops cleanly on SIGTERM or SIGINT.
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace metrics_collector = opentelemetry::proto::collector::metrics::v1;
namespace common = opentelemetry::proto::common::v1;
using json = nlohmann::ordered_json;

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

// Counts the length-delimited fields at `path` (field numbers, outermost
// first) in the message `in` holds; false if it is not well formed.
bool count_nested(google::protobuf::io::CodedInputStream& in, std::span<const int> path, size_t& count) {
  using google::protobuf::internal::WireFormatLite;
  while (const uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) != path.front() ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length > INT_MAX) return false;
    if (path.size() == 1) {
      ++count;
      if (!in.Skip(static_cast<int>(length))) return false;
      continue;
    }
    const auto limit = in.PushLimit(static_cast<int>(length));
    if (!count_nested(in, path.subspan(1), count)) return false;
    in.PopLimit(limit);
  }
  return in.ConsumedEntireMessage();
}

// The spans of a serialized ExportTraceServiceRequest: resource_spans (1) >
// scope_spans (2) > spans (2), field numbers from trace.proto.
std::optional<size_t> count_spans(const grpc::ByteBuffer& request) {
  static constexpr int kSpansPath[] = {1, 2, 2};
  grpc::ByteBuffer shared(request);  // the reader wants it mutable; the slices are shared, not copied
  grpc::ProtoBufferReader reader(&shared);
  google::protobuf::io::CodedInputStream in(&reader);
  size_t count = 0;
  if (!count_nested(in, kSpansPath, count)) return std::nullopt;
  return count;
}

json to_json(const common::AnyValue& value);

json to_json(const google::protobuf::RepeatedPtrField<common::KeyValue>& attributes) {
  json out = json::object();
  for (const auto& kv : attributes) out[kv.key()] = to_json(kv.value());
  return out;
}

json to_json(const common::AnyValue& value) {
  switch (value.value_case()) {
    case common::AnyValue::kStringValue: return value.string_value();
    case common::AnyValue::kBoolValue: return value.bool_value();
    case common::AnyValue::kIntValue: return value.int_value();
    case common::AnyValue::kDoubleValue: return value.double_value();
    case common::AnyValue::kBytesValue: return hex(value.bytes_value());
    case common::AnyValue::kKvlistValue: return to_json(value.kvlist_value().values());
    case common::AnyValue::kArrayValue: {
      json out = json::array();
      for (const auto& v : value.array_value().values()) out.push_back(to_json(v));
      return out;
    }
    case common::AnyValue::VALUE_NOT_SET: break;
  }
  return nullptr;
}

// Appends one JSON line per received span. Each call's lines go out in one
// write, flushed at once, so a test polling the file does not catch a call
// (or a line) half written.
class SpanFile {
 public:
  // "/dev/null": count only (the benchmark's collector must not be its bottleneck).
  explicit SpanFile(const std::string& path) : out_(path, std::ios::app), count_only_(path == "/dev/null") {
    if (!out_) throw std::runtime_error("cannot open " + path + " for appending");
  }

  size_t append(uint64_t call, const collector::ExportTraceServiceRequest& request) {
    std::string text;
    size_t spans = 0;
    if (count_only_) {
      for (const auto& rs : request.resource_spans())
        for (const auto& ss : rs.scope_spans()) spans += static_cast<size_t>(ss.spans_size());
      return spans;
    }
    for (const auto& rs : request.resource_spans()) {
      const json resource = to_json(rs.resource().attributes());
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          const json line = {
              {"export_call", call},
              {"trace_id", hex(span.trace_id())},
              {"span_id", hex(span.span_id())},
              {"parent_span_id", hex(span.parent_span_id())},
              {"name", span.name()},
              {"kind", static_cast<int>(span.kind())},
              {"start", span.start_time_unix_nano()},
              {"end", span.end_time_unix_nano()},
              {"status_code", static_cast<int>(span.status().code())},
              {"status_message", span.status().message()},
              {"attributes", to_json(span.attributes())},
              {"resource", resource},
              {"scope", ss.scope().name()},
          };
          text += line.dump(-1, ' ', false, json::error_handler_t::replace);
          text += '\n';
          ++spans;
        }
      }
    }
    out_.write(text.data(), static_cast<std::streamsize>(text.size()));
    out_.flush();
    return spans;
  }

 private:
  std::ofstream out_;
  bool count_only_;
};

// Optional machine-readable progress: rewritten atomically (write + rename)
// after every call so a reader never sees a partial file.
class StatusFile {
 public:
  explicit StatusFile(std::string path) : path_(std::move(path)) {}

  void write(const json& status) const {
    if (path_.empty()) return;
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << status.dump() << '\n';
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path_, ec);
    if (ec) spdlog::warn("cannot write status file {}: {}", path_, ec.message());
  }

 private:
  std::string path_;
};

// What the sink demands of callers and how it misbehaves on purpose.
struct Behaviour {
  std::string header_key, header_value;  // required metadata; empty: none
  uint64_t fail_first = 0;               // calls answered UNAVAILABLE first
  uint64_t answer_delay_ms = 0;          // a collector that holds every call this long
};

class TraceSink final : public collector::TraceService::Service {
 public:
  TraceSink(SpanFile& spans, const StatusFile& status, Behaviour behaviour)
      : spans_(spans), status_(status), behaviour_(std::move(behaviour)) {}

  void set_listen(std::string listen) {
    std::lock_guard lock(mutex_);
    listen_ = std::move(listen);
    write_status();
  }

  // RED metrics: counted only (tests of their content use the HTTP receiver).
  void count_metrics(const metrics_collector::ExportMetricsServiceRequest& request) {
    std::lock_guard lock(mutex_);
    ++metrics_calls_;
    for (const auto& rm : request.resource_metrics())
      for (const auto& sm : rm.scope_metrics()) metrics_count_ += static_cast<uint64_t>(sm.metrics_size());
    write_status();
  }

  grpc::Status Export(grpc::ServerContext* context, const collector::ExportTraceServiceRequest* request,
                      collector::ExportTraceServiceResponse*) override {
    if (behaviour_.answer_delay_ms > 0 && hold(context)) return {grpc::StatusCode::CANCELLED, "caller gave up"};
    return export_call(*context, [&](uint64_t call) -> std::optional<size_t> { return spans_.append(call, *request); });
  }

  // One export call, after the behaviours: `take(call number)` returns how
  // many spans it received, or nullopt for a request that is not well formed.
  template <class Take>
  grpc::Status export_call(const grpc::ServerContextBase& context, Take take) {
    // One call at a time keeps each call's lines together in the file.
    std::lock_guard lock(mutex_);
    ++attempts_;
    if (!behaviour_.header_key.empty()) {
      const auto& md = context.client_metadata();
      auto it = md.find(behaviour_.header_key);
      if (it == md.end() || std::string(it->second.data(), it->second.size()) != behaviour_.header_value) {
        ++unauthenticated_;
        write_status();
        return {grpc::StatusCode::UNAUTHENTICATED, "missing or wrong " + behaviour_.header_key};
      }
    }
    if (failed_ < behaviour_.fail_first) {
      ++failed_;
      write_status();
      return {grpc::StatusCode::UNAVAILABLE, "sink told to fail the first calls"};
    }
    const std::optional<size_t> n = take(calls_ + 1);
    if (!n) {
      write_status();
      return {grpc::StatusCode::INVALID_ARGUMENT, "not an ExportTraceServiceRequest"};
    }
    ++calls_;
    span_count_ += *n;
    write_status();
    spdlog::debug("export call {}: {} spans", calls_, *n);
    return grpc::Status::OK;
  }

 private:
  void write_status() const {
    status_.write(json{{"listen", listen_},
                       {"export_calls", calls_},
                       {"spans", span_count_},
                       {"attempts", attempts_},
                       {"held", held_},
                       {"failed_on_purpose", failed_},
                       {"unauthenticated", unauthenticated_},
                       {"metrics_calls", metrics_calls_},
                       {"metrics", metrics_count_}});
  }

  // Holds a call for answer_delay_ms, counting it as an attempt at once;
  // true if the caller cancelled meanwhile (its deadline passed).
  bool hold(grpc::ServerContext* context) {
    {
      std::lock_guard lock(mutex_);
      ++held_;
      write_status();
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(behaviour_.answer_delay_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (context->IsCancelled()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::mutex mutex_;
  SpanFile& spans_;
  const StatusFile& status_;
  const Behaviour behaviour_;
  std::string listen_;
  uint64_t calls_ = 0;
  uint64_t span_count_ = 0;
  uint64_t attempts_ = 0;
  uint64_t held_ = 0;
  uint64_t failed_ = 0;
  uint64_t unauthenticated_ = 0;
  uint64_t metrics_calls_ = 0;
  uint64_t metrics_count_ = 0;
};

class MetricsSink final : public metrics_collector::MetricsService::Service {
 public:
  explicit MetricsSink(TraceSink& traces) : traces_(traces) {}
  grpc::Status Export(grpc::ServerContext*, const metrics_collector::ExportMetricsServiceRequest* request,
                      metrics_collector::ExportMetricsServiceResponse*) override {
    traces_.count_metrics(*request);
    return grpc::Status::OK;
  }

 private:
  TraceSink& traces_;
};

// The benchmarks' collector: the same behaviours and counts, with the
// request left as bytes (gRPC's raw callback API) and its spans counted there.
class CountingTraceSink final
    : public collector::TraceService::WithRawCallbackMethod_Export<collector::TraceService::Service> {
 public:
  explicit CountingTraceSink(TraceSink& traces) : traces_(traces) {}
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    grpc::Status status = traces_.export_call(*context, [&](uint64_t) { return count_spans(*request); });
    grpc::Slice empty;  // an ExportTraceServiceResponse with nothing set
    *response = grpc::ByteBuffer(&empty, 1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(std::move(status));
    return reactor;
  }

 private:
  TraceSink& traces_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"otlp_sink: OTLP/gRPC trace receiver that writes received spans as JSON lines"};
  std::string listen = "127.0.0.1:0";
  std::string out_path;
  std::string status_path;
  app.add_option("--listen", listen, "host:port to listen on; port 0 picks a free one")->capture_default_str();
  app.add_option("--out", out_path, "file to append one JSON line per received span to")->required();
  app.add_option("--status-file", status_path, "file rewritten with call and span counts after each call");
  std::string tls_cert, tls_key, require_header;
  Behaviour behaviour;
  app.add_option("--tls-cert", tls_cert, "serve TLS with this PEM certificate (needs --tls-key)");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_option("--require-header", require_header, "key=value metadata every call must carry");
  app.add_option("--fail-first", behaviour.fail_first, "answer UNAVAILABLE to the first N calls");
  app.add_option("--answer-delay-ms", behaviour.answer_delay_ms,
                 "hold every trace export call this long before answering (a hung collector)");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("otlp_sink"));
  if (const auto eq = require_header.find('='); eq != std::string::npos) {
    behaviour.header_key = require_header.substr(0, eq);
    behaviour.header_value = require_header.substr(eq + 1);
  }

  // Block the stop signals before gRPC starts its threads (they inherit the
  // mask), then take them synchronously with sigwait below: no handler, no
  // global flag. A shell starting us with `&` sets SIGINT to "ignore", and
  // an ignored signal is discarded instead of waiting for sigwait: restore
  // the default first.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    SpanFile spans(out_path);
    const StatusFile status(status_path);
    TraceSink sink(spans, status, behaviour);
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (!tls_cert.empty()) {
      grpc::SslServerCredentialsOptions tls;
      tls.pem_key_cert_pairs.push_back({read_file(tls_key), read_file(tls_cert)});
      credentials = grpc::SslServerCredentials(tls);
    }

    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(listen, credentials, &port);
    CountingTraceSink counting_sink(sink);
    const bool count_only = out_path == "/dev/null" && behaviour.answer_delay_ms == 0;
    if (count_only) {
      builder.RegisterService(&counting_sink);
    } else {
      builder.RegisterService(&sink);
    }
    MetricsSink metrics_sink(sink);
    builder.RegisterService(&metrics_sink);
    builder.SetMaxReceiveMessageSize(64 * 1024 * 1024);  // never the reason a test fails
    const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr || port == 0) {
      spdlog::error("cannot listen on {}", listen);
      return 1;
    }

    const std::string host = listen.substr(0, listen.rfind(':'));
    const std::string bound = host + ":" + std::to_string(port);
    sink.set_listen(bound);
    std::cout << "listening " << bound << std::endl;

    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("signal {}: shutting down", signal);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server->Wait();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
