// Sends spans to an OpenTelemetry collector over OTLP/gRPC, in batches, from
// its own thread, so the pipeline never waits for the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "export/exporter.h"
#include "metrics/metrics.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace spanwire {

inline constexpr uint16_t kOtlpGrpcDefaultPort = 4317;

struct OtlpEndpoint {
  std::string target;  // "host:port" as gRPC expects it
  bool tls = false;
};

// Accepts "http://host[:port]", "https://host[:port]" or "host[:port]"
// (plaintext); the port defaults to 4317. Throws std::invalid_argument with a
// message fit for the user when the endpoint cannot be used.
OtlpEndpoint parse_otlp_endpoint(std::string_view endpoint);

// The bounded FIFO between the pipeline (producer) and the sender thread
// (consumer). When full it drops the oldest span: fresh spans are worth more
// than stale ones, and the producer must never block.
class SpanBatchQueue {
 public:
  SpanBatchQueue(size_t capacity, size_t batch_size, std::chrono::milliseconds batch_timeout);

  // Never blocks. Returns true if the oldest span was dropped to make room.
  bool push(Span span);
  // Blocks until a batch is due: batch_size spans queued, the oldest queued
  // span waited batch_timeout, or a flush asked for it. nullopt once closed.
  std::optional<std::vector<Span>> next_batch();
  // The consumer reports that the last batch it took is finished (sent or not).
  void batch_done();
  // Makes everything queued now due and waits until it is done. True if it
  // all finished within `timeout`.
  bool wait_flushed(std::chrono::milliseconds timeout);
  // Stops the consumer: next_batch() returns nullopt from now on.
  void close();
  // Empties the queue; returns how many spans were thrown away.
  size_t discard_all();
  size_t size() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Clock::time_point queued_at;
    uint64_t seq;  // 1, 2, ... in push order; flush waits by sequence number
    Span span;
  };
  bool batch_due(Clock::time_point now) const;

  const size_t capacity_;
  const size_t batch_size_;
  const std::chrono::milliseconds batch_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable consumer_cv_;
  std::condition_variable done_cv_;
  std::deque<Entry> entries_;
  uint64_t last_pushed_ = 0;
  uint64_t flush_through_ = 0;  // entries up to this seq are due at once
  uint64_t taken_through_ = 0;  // last seq handed to the consumer
  uint64_t done_through_ = 0;   // every seq up to here is sent, failed or dropped
  bool closed_ = false;
};

// Lets one line through per interval and counts the others, so a collector
// that stays down produces one warning per interval instead of one per batch.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}
  // nullopt: stay quiet. Otherwise log, mentioning the returned number of
  // lines suppressed since the previous one.
  std::optional<uint64_t> admit(Clock::time_point now);

 private:
  Clock::duration interval_;
  std::optional<Clock::time_point> last_;
  uint64_t suppressed_ = 0;
};

class OtlpGrpcExporter final : public SpanExporter {
 public:
  struct Options {
    std::string endpoint;  // "http://host:port", "https://host:port" or "host:port" (insecure)
    size_t max_batch_size = 512;
    std::chrono::milliseconds batch_timeout{1000};
    size_t max_queue_size = 8192;
    std::chrono::milliseconds export_timeout{10000};
    std::vector<std::pair<std::string, std::string>> headers;  // sent as gRPC metadata
  };

  // Throws std::invalid_argument for an unusable endpoint. Does not connect:
  // the channel connects on the first export and reconnects by itself.
  OtlpGrpcExporter(Options options, Metrics& metrics);
  // Flushes for at most 5 s, then cancels any call in flight; spans still
  // queued are counted as dropped.
  ~OtlpGrpcExporter() override;
  OtlpGrpcExporter(const OtlpGrpcExporter&) = delete;
  OtlpGrpcExporter& operator=(const OtlpGrpcExporter&) = delete;

  void export_span(Span span) override;
  void flush(std::chrono::milliseconds timeout) override;

 private:
  void run_sender();
  void send(const std::vector<Span>& batch);
  void report_failure(const std::string& problem, size_t spans, bool will_retry);
  void cancel_in_flight();

  const Options options_;
  const OtlpEndpoint endpoint_;
  Metrics& metrics_;
  std::shared_ptr<grpc::Channel> channel_;
  SpanBatchQueue queue_;
  std::once_flag queue_full_warned_;

  // Sender-thread state.
  LogThrottle failure_log_{std::chrono::seconds(30)};
  uint64_t failures_in_a_row_ = 0;

  // Lets the destructor cancel a call the sender is blocked in.
  std::mutex call_mutex_;
  grpc::ClientContext* call_in_flight_ = nullptr;
  bool stopping_ = false;

  std::thread sender_;  // last: starts after everything it uses exists
};

}  // namespace spanwire
