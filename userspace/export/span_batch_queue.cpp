#include "export/span_batch_queue.h"

#include <algorithm>

namespace spanwire {

size_t approx_span_bytes(const Span& span) {
  // Strings shorter than the small-string buffer live inside the object;
  // counting their capacity anyway keeps this an upper bound.
  size_t n = sizeof(Span) + span.name.capacity() + span.trace_state.capacity() + span.status_message.capacity() +
             span.attributes.capacity() * sizeof(Attribute);
  for (const auto& a : span.attributes)
    if (const auto* s = std::get_if<std::string>(&a.value)) n += s->capacity();
  return n;
}

SpanBatchQueue::SpanBatchQueue(size_t capacity, size_t max_bytes, size_t batch_size,
                               std::chrono::milliseconds batch_timeout)
    : capacity_(std::max<size_t>(capacity, 1)),
      max_bytes_(std::max<size_t>(max_bytes, 1)),
      // A batch larger than the queue could never fill up.
      batch_size_(std::clamp<size_t>(batch_size, 1, capacity_)),
      batch_timeout_(batch_timeout) {}

void SpanBatchQueue::pop_front_locked() {
  bytes_ -= entries_.front().bytes;
  entries_.pop_front();
}

SpanBatchQueue::PushResult SpanBatchQueue::push_all(std::vector<Span>& spans) {
  const auto now = Clock::now();
  std::vector<size_t> sizes;
  sizes.reserve(spans.size());
  for (const Span& span : spans) sizes.push_back(approx_span_bytes(span));
  PushResult result{};
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    const size_t before = entries_.size();
    for (size_t i = 0; i < spans.size(); ++i) {
      while (!entries_.empty() && (entries_.size() >= capacity_ || bytes_ + sizes[i] > max_bytes_)) {
        pop_front_locked();
        ++result.dropped;
      }
      entries_.push_back(Entry{now, ++last_pushed_, sizes[i], std::move(spans[i])});
      bytes_ += sizes[i];
    }
    // The consumer's wait changes only when its batch timer starts (the queue
    // was empty) or a full batch is ready; other pushes need not wake it.
    wake = before == 0 || (before < batch_size_ && entries_.size() >= batch_size_);
    result.size = entries_.size();
    result.bytes = bytes_;
  }
  spans.clear();
  if (wake) consumer_cv_.notify_one();
  return result;
}

bool SpanBatchQueue::batch_due(Clock::time_point now) const {
  if (entries_.empty()) return false;
  const Entry& oldest = entries_.front();
  return entries_.size() >= batch_size_ || oldest.seq <= flush_through_ ||
         now >= oldest.queued_at + batch_timeout_;
}

std::optional<SpanBatchQueue::Batch> SpanBatchQueue::next_batch() {
  std::unique_lock lock(mutex_);
  while (!closed_ && !batch_due(Clock::now())) {
    if (entries_.empty())
      consumer_cv_.wait(lock);
    else
      consumer_cv_.wait_until(lock, entries_.front().queued_at + batch_timeout_);
  }
  if (closed_) return std::nullopt;

  const size_t n = std::min(batch_size_, entries_.size());
  Batch batch;
  batch.spans.reserve(n);
  batch.first_seq = entries_.front().seq;
  for (size_t i = 0; i < n; ++i) {
    batch.spans.push_back(std::move(entries_.front().span));
    batch.last_seq = taken_through_ = entries_.front().seq;
    pop_front_locked();
  }
  in_flight_.insert(batch.first_seq);
  // Another batch may be due already: another waiting consumer takes it.
  const bool more = batch_due(Clock::now());
  lock.unlock();
  if (more) consumer_cv_.notify_one();
  return batch;
}

void SpanBatchQueue::batch_done(const Batch& batch) {
  {
    std::lock_guard lock(mutex_);
    in_flight_.erase(batch.first_seq);
    // FIFO order: everything pushed before the oldest batch still out was
    // either in a finished batch or dropped, so it is all done now.
    done_through_ = in_flight_.empty() ? taken_through_ : *in_flight_.begin() - 1;
  }
  done_cv_.notify_all();
}

bool SpanBatchQueue::wait_flushed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const uint64_t target = last_pushed_;
  flush_through_ = std::max(flush_through_, target);
  consumer_cv_.notify_all();
  return done_cv_.wait_for(lock, timeout, [&] { return done_through_ >= target; });
}

void SpanBatchQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  consumer_cv_.notify_all();
  done_cv_.notify_all();
}

size_t SpanBatchQueue::discard_all() {
  std::lock_guard lock(mutex_);
  const size_t n = entries_.size();
  entries_.clear();
  bytes_ = 0;
  return n;
}

size_t SpanBatchQueue::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

size_t SpanBatchQueue::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace spanwire
