#include "export/retrying_sender.h"

#include <random>

#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

namespace spanwire {

using std::chrono::milliseconds;

RetryingSender::RetryingSender(OtlpTransport& transport, RetrySettings settings, Metrics& metrics, std::string what)
    : transport_(transport),
      settings_(settings),
      metrics_(metrics),
      what_(std::move(what)),
      backoff_(settings.backoff(), std::random_device{}()) {}

RetryingSender::Result RetryingSender::send(Signal signal, std::string_view request,
                                            google::protobuf::Message& response, size_t items) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  backoff_.reset();
  for (;;) {
    if (stopped()) return Result::kStopped;
    response.Clear();
    const auto attempt_start = Clock::now();
    const ExportResult result = transport_.send(signal, request, response);
    metrics_.export_latency.observe(std::chrono::duration<double>(Clock::now() - attempt_start).count());
    if (result.outcome == ExportResult::Outcome::kOk) {
      if (failures_in_a_row_ > 0) {
        spdlog::info("{} works again after {} failed attempts", transport_.describe(), failures_in_a_row_);
        failures_in_a_row_ = 0;
      }
      return Result::kAccepted;
    }
    ++failures_in_a_row_;
    metrics_.export_failures.add(result.reason.empty() ? "unknown" : result.reason);
    if (stopped()) return Result::kStopped;

    const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    milliseconds delay = result.retry_after ? *result.retry_after : backoff_.next();
    if (result.outcome == ExportResult::Outcome::kPermanent) {
      log_failure(result, items, "not retryable, dropped");
      return Result::kGaveUp;
    }
    if (last_attempts()) {
      log_failure(result, items, "shutting down, no more retries: dropped");
      return Result::kGaveUp;
    }
    if (elapsed + delay > settings_.max_elapsed) {
      log_failure(result, items,
                  fmt::format("retried for {} s, giving up on them", elapsed.count() / 1000));
      return Result::kGaveUp;
    }
    log_failure(result, items, fmt::format("retrying in {} ms", delay.count()));
    metrics_.export_retries++;
    std::unique_lock lock(mutex_);
    // Woken by stop_retrying(): the loop makes the one last attempt at once.
    wake_.wait_for(lock, delay, [&] { return stopped_ || last_attempts_; });
    if (stopped_) return Result::kStopped;
  }
}

void RetryingSender::log_failure(const ExportResult& result, size_t items, const std::string& next_step) {
  if (auto suppressed = log_.admit(LogThrottle::Clock::now()))
    spdlog::warn("{} failed for {} {}: {}; {}{}", transport_.describe(), items, what_, result.detail, next_step,
                 LogThrottle::suppressed_note(*suppressed));
}

void RetryingSender::stop() {
  stop_waiting();
  transport_.cancel();
}

void RetryingSender::stop_waiting() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  wake_.notify_all();
}

void RetryingSender::stop_retrying() {
  {
    std::lock_guard lock(mutex_);
    last_attempts_ = true;
  }
  wake_.notify_all();
}

bool RetryingSender::last_attempts() const {
  std::lock_guard lock(mutex_);
  return last_attempts_;
}

bool RetryingSender::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

}  // namespace spanwire
