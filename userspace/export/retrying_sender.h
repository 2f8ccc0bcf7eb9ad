// Sends one OTLP request until the collector takes it, the failure is
// permanent, or the retry budget is spent: exponential backoff with jitter,
// the server's own delay (RetryInfo, Retry-After) when it gives one. Shared by
// the span and the metric exporters; each owns one and calls it from its own
// sender thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "export/log_throttle.h"
#include "export/otlp_transport.h"
#include "metrics/metrics.h"
#include "util/backoff.h"

namespace spanwire {

struct RetrySettings {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max_interval{30000};
  std::chrono::milliseconds max_elapsed{300000};  // 0: never retry
  double multiplier = 1.5;
  double jitter = 0.5;  // each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]

  BackoffPolicy backoff() const { return {initial, max_interval, multiplier, jitter}; }
};

class RetryingSender {
 public:
  // `what` names the items for logs ("spans", "data points").
  RetryingSender(OtlpTransport& transport, RetrySettings settings, Metrics& metrics, std::string what);

  enum class Result { kAccepted, kGaveUp, kStopped };
  // Blocks the calling thread (a sender thread) through every attempt and wait.
  Result send(Signal signal, std::string_view request, google::protobuf::Message& response,
              size_t items);
  // From any thread: ends waits at once and cancels a call in flight; send()
  // then returns kStopped and every later send() fails at once.
  void stop();
  // Like stop(), but a call in flight runs to its end (its own timeout).
  void stop_waiting();
  // For a shutdown flush: ends a retry wait at once and makes every failure
  // from now on final. The request in hand gets one more attempt without
  // waiting, later requests one attempt each; nothing waits out a backoff.
  void stop_retrying();
  bool stopped() const;
  const OtlpTransport& transport() const { return transport_; }

 private:
  bool last_attempts() const;
  void log_failure(const ExportResult& result, size_t items, const std::string& next_step);

  OtlpTransport& transport_;
  const RetrySettings settings_;
  Metrics& metrics_;
  const std::string what_;
  Backoff backoff_;
  LogThrottle log_{std::chrono::seconds(30)};
  uint64_t failures_in_a_row_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  bool last_attempts_ = false;  // stop_retrying() was called
};

}  // namespace spanwire
