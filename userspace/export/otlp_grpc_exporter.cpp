#include "export/otlp_grpc_exporter.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "export/otlp_convert.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

#ifndef SPANWIRE_VERSION
#define SPANWIRE_VERSION "dev"
#endif

namespace spanwire {

namespace otlp = opentelemetry::proto::collector::trace::v1;

// ---------------------------------------------------------------- endpoint

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::invalid_argument bad_endpoint(std::string_view endpoint, std::string_view why) {
  return std::invalid_argument("OTLP endpoint '" + std::string(endpoint) + "' " + std::string(why) +
                               "; expected http://host:port, https://host:port or host:port");
}

}  // namespace

OtlpEndpoint parse_otlp_endpoint(std::string_view endpoint) {
  OtlpEndpoint out;
  std::string_view rest = endpoint;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    throw bad_endpoint(endpoint, "has an unsupported scheme");
  }
  // gRPC has no use for a path; people often leave a trailing "/".
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) throw bad_endpoint(endpoint, "has no host");

  std::string_view host = rest;
  std::string_view port;
  if (rest.front() == '[') {  // [v6-address] or [v6-address]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) throw bad_endpoint(endpoint, "has an unclosed '['");
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad_endpoint(endpoint, "has junk after ']'");
      port = after.substr(1);
      if (port.empty()) throw bad_endpoint(endpoint, "has an empty port");
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty()) throw bad_endpoint(endpoint, "has no host");
    if (port.empty()) throw bad_endpoint(endpoint, "has an empty port");
  }
  if (!port.empty() && (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) > 65535))
    throw bad_endpoint(endpoint, "has an invalid port");

  // A bare IPv6 address (several colons, no brackets) needs brackets before a port.
  const bool bare_v6 = host.front() != '[' && host.find(':') != std::string_view::npos;
  out.target = bare_v6 ? "[" + std::string(host) + "]" : std::string(host);
  out.target += ':';
  out.target += port.empty() ? std::to_string(kOtlpGrpcDefaultPort) : std::string(port);
  return out;
}

// ---------------------------------------------------------------- queue

SpanBatchQueue::SpanBatchQueue(size_t capacity, size_t batch_size, std::chrono::milliseconds batch_timeout)
    : capacity_(std::max<size_t>(capacity, 1)),
      // A batch larger than the queue could never fill up.
      batch_size_(std::clamp<size_t>(batch_size, 1, capacity_)),
      batch_timeout_(batch_timeout) {}

bool SpanBatchQueue::push(Span span) {
  const auto now = Clock::now();
  bool dropped = false;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= capacity_) {
      entries_.pop_front();
      dropped = true;
    }
    entries_.push_back(Entry{now, ++last_pushed_, std::move(span)});
    // The consumer's wait changes only when its batch timer starts (first
    // span) or a full batch is ready; other pushes need not wake it.
    wake = entries_.size() == 1 || entries_.size() == batch_size_;
  }
  if (wake) consumer_cv_.notify_one();
  return dropped;
}

bool SpanBatchQueue::batch_due(Clock::time_point now) const {
  if (entries_.empty()) return false;
  const Entry& oldest = entries_.front();
  return entries_.size() >= batch_size_ || oldest.seq <= flush_through_ ||
         now >= oldest.queued_at + batch_timeout_;
}

std::optional<std::vector<Span>> SpanBatchQueue::next_batch() {
  std::unique_lock lock(mutex_);
  while (!closed_ && !batch_due(Clock::now())) {
    if (entries_.empty())
      consumer_cv_.wait(lock);
    else
      consumer_cv_.wait_until(lock, entries_.front().queued_at + batch_timeout_);
  }
  if (closed_) return std::nullopt;

  const size_t n = std::min(batch_size_, entries_.size());
  std::vector<Span> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(entries_.front().span));
    taken_through_ = entries_.front().seq;
    entries_.pop_front();
  }
  return batch;
}

void SpanBatchQueue::batch_done() {
  {
    std::lock_guard lock(mutex_);
    // FIFO order: everything pushed before the batch's last span was either
    // in an earlier batch or dropped, so it is all done now.
    done_through_ = taken_through_;
  }
  done_cv_.notify_all();
}

bool SpanBatchQueue::wait_flushed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const uint64_t target = last_pushed_;
  flush_through_ = std::max(flush_through_, target);
  consumer_cv_.notify_one();
  return done_cv_.wait_for(lock, timeout, [&] { return done_through_ >= target; });
}

void SpanBatchQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  consumer_cv_.notify_all();
}

size_t SpanBatchQueue::discard_all() {
  std::lock_guard lock(mutex_);
  const size_t n = entries_.size();
  entries_.clear();
  return n;
}

size_t SpanBatchQueue::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

// ---------------------------------------------------------------- throttle

std::optional<uint64_t> LogThrottle::admit(Clock::time_point now) {
  if (last_ && now - *last_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_ = now;
  return std::exchange(suppressed_, 0);
}

// ---------------------------------------------------------------- exporter

namespace {

constexpr std::chrono::seconds kShutdownFlushTimeout{5};

std::string_view code_name(grpc::StatusCode code) {
  // Indexed by grpc::StatusCode, whose values are fixed by the gRPC spec.
  static constexpr std::array<std::string_view, 17> kNames = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  const auto i = static_cast<size_t>(code);
  return i < kNames.size() ? kNames[i] : "UNKNOWN_CODE";
}

// What the user should check for each way an export can fail.
std::string_view hint_for(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return "check that the collector is running and listening there";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the collector is too slow or the network drops packets; check it or raise the export timeout";
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return "check the credentials passed as export headers";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "the endpoint does not serve OTLP/gRPC traces (4318 is OTLP/HTTP; gRPC is usually 4317)";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "the collector is overloaded or refuses the batch size; lower the batch size";
    case grpc::StatusCode::CANCELLED:
      return "the sensor is shutting down";
    default:
      return "check the collector's logs";
  }
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::shared_ptr<grpc::Channel> make_channel(const OtlpEndpoint& endpoint) {
  // System roots: an empty SslCredentialsOptions makes gRPC load the host's
  // CA bundle.
  auto credentials = endpoint.tls ? grpc::SslCredentials(grpc::SslCredentialsOptions{})
                                  : grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("spanwire/" SPANWIRE_VERSION);
  // gRPC's default backoff grows to 120 s, during which every batch fails
  // without even trying; a collector that comes back should be used soon.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return grpc::CreateCustomChannel(endpoint.target, credentials, args);
}

OtlpGrpcExporter::Options normalized(OtlpGrpcExporter::Options options) {
  // gRPC rejects metadata keys with capitals; HTTP header names are
  // case-insensitive, so this changes nothing for the collector.
  for (auto& [key, value] : options.headers) key = lowercase(std::move(key));
  return options;
}

}  // namespace

OtlpGrpcExporter::OtlpGrpcExporter(Options options, Metrics& metrics)
    : options_(normalized(std::move(options))),
      endpoint_(parse_otlp_endpoint(options_.endpoint)),
      metrics_(metrics),
      channel_(make_channel(endpoint_)),
      queue_(options_.max_queue_size, options_.max_batch_size, options_.batch_timeout),
      sender_([this] { run_sender(); }) {
  spdlog::debug("OTLP/gRPC export to {} ({}), batches of up to {} spans, queue of {}", endpoint_.target,
               endpoint_.tls ? "TLS" : "plaintext", options_.max_batch_size, options_.max_queue_size);
}

OtlpGrpcExporter::~OtlpGrpcExporter() {
  flush(kShutdownFlushTimeout);
  queue_.close();
  cancel_in_flight();
  sender_.join();
  if (const size_t left = queue_.discard_all(); left > 0) {
    metrics_.spans_dropped_export_failed.fetch_add(left, std::memory_order_relaxed);
    spdlog::warn("OTLP exporter stopped with {} spans not sent to {}; they are counted as dropped", left,
                 endpoint_.target);
  }
}

void OtlpGrpcExporter::export_span(Span span) {
  if (!queue_.push(std::move(span))) return;
  metrics_.spans_dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
  std::call_once(queue_full_warned_, [this] {
    spdlog::warn("OTLP export queue is full ({} spans): {} is slower than the traffic or unreachable; "
                 "dropping the oldest spans, counted in spans_dropped_queue_full",
                 options_.max_queue_size, endpoint_.target);
  });
}

void OtlpGrpcExporter::flush(std::chrono::milliseconds timeout) {
  if (!queue_.wait_flushed(timeout))
    spdlog::warn("OTLP flush to {} did not finish within {} ms; {} spans still queued", endpoint_.target,
                 timeout.count(), queue_.size());
}

void OtlpGrpcExporter::run_sender() {
  while (auto batch = queue_.next_batch()) {
    send(*batch);
    queue_.batch_done();
  }
}

void OtlpGrpcExporter::send(const std::vector<Span>& batch) {
  const auto request = to_otlp_request(batch);
  otlp::ExportTraceServiceResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.export_timeout);
  for (const auto& [key, value] : options_.headers) context.AddMetadata(key, value);
  {
    std::lock_guard lock(call_mutex_);
    if (stopping_) {
      report_failure("the sensor stopped before the batch could be sent", batch.size(), false);
      return;
    }
    call_in_flight_ = &context;
  }
  // The stub is a thin handle on the shared channel; the channel keeps the
  // connection and reconnects on its own after a failure.
  const grpc::Status status = otlp::TraceService::NewStub(channel_)->Export(&context, request, &response);
  {
    std::lock_guard lock(call_mutex_);
    call_in_flight_ = nullptr;
  }

  if (!status.ok()) {
    const auto code = status.error_code();
    report_failure(fmt::format("{} ({}); {}", code_name(code), status.error_message(), hint_for(code)),
                   batch.size(), code != grpc::StatusCode::CANCELLED);
    return;
  }

  const auto& partial = response.partial_success();
  const auto claimed = static_cast<size_t>(std::max<int64_t>(partial.rejected_spans(), 0));
  const size_t rejected = std::min(batch.size(), claimed);
  metrics_.export_batches.fetch_add(1, std::memory_order_relaxed);
  metrics_.spans_exported.fetch_add(batch.size() - rejected, std::memory_order_relaxed);
  metrics_.spans_dropped_export_failed.fetch_add(rejected, std::memory_order_relaxed);
  if (failures_in_a_row_ > 0) {
    spdlog::info("OTLP export to {} works again after {} failed batches", endpoint_.target, failures_in_a_row_);
    failures_in_a_row_ = 0;
  }
  if (rejected > 0 || !partial.error_message().empty()) {
    if (auto suppressed = failure_log_.admit(LogThrottle::Clock::now()))
      spdlog::warn("OTLP collector {} rejected {} of {} spans: {}; they are counted in "
                   "spans_dropped_export_failed{}",
                   endpoint_.target, rejected, batch.size(),
                   partial.error_message().empty() ? "no reason given" : partial.error_message(),
                   *suppressed > 0 ? fmt::format(" ({} similar warnings suppressed)", *suppressed) : "");
  }
}

void OtlpGrpcExporter::report_failure(const std::string& problem, size_t spans, bool will_retry) {
  metrics_.export_batches_failed.fetch_add(1, std::memory_order_relaxed);
  metrics_.spans_dropped_export_failed.fetch_add(spans, std::memory_order_relaxed);
  ++failures_in_a_row_;
  if (auto suppressed = failure_log_.admit(LogThrottle::Clock::now()))
    spdlog::warn("OTLP export to {} failed: {}; {} spans dropped and counted in spans_dropped_export_failed{}{}",
                 endpoint_.target, problem, spans, will_retry ? ", the next batch retries" : "",
                 *suppressed > 0 ? fmt::format(" ({} similar warnings suppressed)", *suppressed) : "");
}

void OtlpGrpcExporter::cancel_in_flight() {
  std::lock_guard lock(call_mutex_);
  stopping_ = true;
  if (call_in_flight_ != nullptr) call_in_flight_->TryCancel();
}

}  // namespace spanwire
