// The bounded FIFO between the pipeline (producer) and an exporter's sender
// thread (consumer). Bounded twice: by span count and by an estimate of the
// memory the spans hold, so a collector that is down for an hour costs the
// node a fixed amount of memory. When full it drops the oldest spans: fresh
// spans are worth more than stale ones, and the producer must never block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "span/span.h"

namespace spanwire {

// Roughly the heap and inline bytes a queued span holds (for the memory bound).
size_t approx_span_bytes(const Span& span);

class SpanBatchQueue {
 public:
  SpanBatchQueue(size_t capacity, size_t max_bytes, size_t batch_size, std::chrono::milliseconds batch_timeout);

  struct PushResult {
    size_t dropped;  // oldest spans dropped to make room
    size_t size;     // spans queued now
    size_t bytes;    // their estimated bytes
  };
  // Queues `spans` in order under one lock and empties it. Never blocks.
  PushResult push_all(std::vector<Span>& spans);
  // A batch handed to a consumer: its spans and the push sequence numbers
  // they span (consecutive but for spans dropped meanwhile).
  struct Batch {
    std::vector<Span> spans;
    uint64_t first_seq = 0, last_seq = 0;
  };
  // Blocks until a batch is due: batch_size spans queued, the oldest queued
  // span waited batch_timeout, or a flush asked for it. nullopt once closed.
  // Several consumers may wait and hold batches at once.
  std::optional<Batch> next_batch();
  // A consumer reports that a batch it took is finished (sent or not).
  void batch_done(const Batch& batch);
  // Makes everything queued now due and waits until it is done. True if it
  // all finished within `timeout`.
  bool wait_flushed(std::chrono::milliseconds timeout);
  // Stops the consumer: next_batch() returns nullopt from now on.
  void close();
  // Empties the queue; returns how many spans were thrown away.
  size_t discard_all();
  size_t size() const;
  size_t bytes() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Clock::time_point queued_at;
    uint64_t seq;  // 1, 2, ... in push order; flush waits by sequence number
    size_t bytes;
    Span span;
  };
  bool batch_due(Clock::time_point now) const;
  void pop_front_locked();

  const size_t capacity_;
  const size_t max_bytes_;
  const size_t batch_size_;
  const std::chrono::milliseconds batch_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable consumer_cv_;
  std::condition_variable done_cv_;
  std::deque<Entry> entries_;
  size_t bytes_ = 0;
  uint64_t last_pushed_ = 0;
  uint64_t flush_through_ = 0;  // entries up to this seq are due at once
  uint64_t taken_through_ = 0;  // last seq handed to a consumer
  uint64_t done_through_ = 0;   // every seq up to here is sent, failed or dropped
  std::set<uint64_t> in_flight_;  // first seqs of the batches consumers hold
  bool closed_ = false;
};

}  // namespace spanwire
