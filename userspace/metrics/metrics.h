// The sensor's own counters. Every event, span or batch that is dropped
// anywhere is counted here; nothing is lost silently. One instance, owned by
// the daemon and passed by reference to each stage.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/protocol_counters.h"

namespace spanwire {

#define SPANWIRE_USERSPACE_COUNTERS(X)                                           \
  X(events_received, "ring-buffer events read")                                  \
  X(events_malformed, "events too short or of unknown type")                     \
  X(events_orphaned, "data events for a connection whose open event was lost")   \
  X(events_unsupported_protocol, "data events of protocols spanwire does not parse") \
  X(connections_opened, "connections tracked in userspace")                      \
  X(connections_closed, "connections closed")                                    \
  X(connections_reclaimed, "idle connections reclaimed")                         \
  X(connections_evicted, "connections evicted at the table limit")               \
  X(stream_bytes, "payload bytes delivered in order to parsers")                 \
  X(stream_gap_bytes, "bytes never seen: lost, or beyond the copy cap")          \
  X(stream_uncopied_bytes, "bytes counted but not copied on purpose (sendfile, bodies of announced length)") \
  X(stream_duplicate_bytes, "bytes received twice and discarded")                \
  X(stream_overflow_bytes, "bytes dropped because a stream's buffer was full")   \
  X(stream_body_bytes_skipped, "body bytes the protocol announced it only counts, not delivered to it") \
  X(exchanges, "exchanges (request and answer) completed, every protocol")      \
  X(exchanges_unanswered, "requests that never got a response")                 \
  X(exchanges_shed, "requests left out because the kernel stopped tracing their connection before the answer (shedding load)") \
  X(spans_created, "spans built")                                                \
  X(spans_linked_tuple, "server spans linked under their same-host client span (tuple + TCP sequence)") \
  X(spans_linked_thread, "client spans linked under the server span their thread was serving") \
  X(spans_linked_goroutine, "Go client spans linked under the server span their goroutine (or its creator) served") \
  X(spans_context_kernel, "spans whose ids the kernel decided (they may have gone on the wire)") \
  X(spans_linked_wire, "spans linked under a local parent by the kernel's ids (TCP option, same-host tuple, thread)") \
  X(spans_link_ambiguous, "thread links chosen among several in-flight requests of one thread") \
  X(calls_unlinked, "client calls made while the process served requests, linked to none") \
  X(links_too_late, "partners that arrived after the other side was exported (not linked)") \
  X(link_conflicts, "links refused because both trees already had different trace ids") \
  X(spans_released_early, "spans exported before their link window ended (too many held)") \
  X(spans_filtered, "spans suppressed by --port or the process selection (--namespace, --pod-label, ...)") \
  X(spans_sampled_out_head, "spans dropped by the head sampler (trace-id ratio, parent flag)") \
  X(spans_sampled_out_tail, "spans of traces no tail rule kept")                 \
  X(spans_sampled_out_rate_limit, "spans of traces over the traces-per-second ceiling") \
  X(spans_decided_late, "spans that arrived after their trace's sampling decision (followed it)") \
  X(traces_kept_error, "traces kept by the tail rule for errors")                \
  X(traces_kept_slow, "traces kept by the tail rule for slow traces")            \
  X(traces_sampled, "traces kept (all rules)")                                   \
  X(traces_sampled_out, "traces dropped (all rules)")                            \
  X(spans_exported, "spans the OTLP collector accepted")            \
  X(spans_dropped_queue_full, "spans dropped because the export queue was full (count or memory ceiling)") \
  X(spans_dropped_export_failed, "spans in batches the collector did not take (permanent error or retries exhausted)") \
  X(spans_rejected_partial, "spans the collector rejected in a partial-success response") \
  X(export_batches, "export batches sent")                                       \
  X(export_batches_failed, "export batches given up on")                         \
  X(export_retries, "export attempts retried after a retryable failure")         \
  X(export_partial_successes, "export responses reporting a partial success")    \
  X(metrics_exports, "OTLP metric exports sent (RED metrics)")                   \
  X(metrics_exports_failed, "OTLP metric exports given up on")                   \
  X(metrics_series_overflow, "RED data points folded into the overflow series (cardinality limit)") \
  X(kernel_ringbuf_drops, "events the kernel could not put in the ring buffer")  \
  X(kernel_bytes_uncopied, "bytes not copied: beyond the payload cap, sendfile, unreadable buffers") \
  X(kernel_conns_traced, "connections the kernel recognised as HTTP")            \
  X(kernel_conns_other, "TCP connections of other protocols (no payload)")       \
  X(kernel_iov_truncated, "syscalls with more messages than the kernel walks, or unreadable iovecs") \
  X(kernel_stash_full, "syscalls the kernel could not follow (stash full)")      \
  X(kernel_conn_map_full, "connections the kernel could not track (map full)")   \
  X(kernel_data_events, "data events the kernel emitted")                       \
  X(kernel_tls_conns, "connections found to carry TLS (plaintext from uprobes)") \
  X(kernel_tls_encrypted_bytes, "encrypted bytes of TLS connections, counted, never copied") \
  X(kernel_tls_no_conn, "TLS calls whose connection was unknown: plaintext lost") \
  X(kernel_wire_stamped, "data segments that carried the trace-context TCP option")  \
  X(kernel_wire_no_room, "data segments sent without the option: no TCP option space left") \
  X(kernel_wire_received, "segments whose trace-context TCP option was read")  \
  X(kernel_wire_unstamped_conns, "traced connections established before propagation started (no option either way)") \
  X(kernel_contexts_decided, "requests whose trace context the kernel decided")  \
  X(kernel_shed_connections, "connections the kernel did not trace from their start to shed load (userspace was behind)") \
  X(kernel_shed_cuts, "traced connections the kernel stopped tracing to shed load (userspace was behind)") \
  X(kernel_shed_resumed, "shed connections traced again from a request's first byte, once userspace caught up") \
  X(kernel_shed_bytes, "bytes of shed connections, counted, never copied")      \
  X(kernel_body_bytes_skipped, "HTTP/1 body bytes of announced length, counted, never copied") \
  X(kernel_body_cut_short, "calls that began an HTTP/1 message where announced body was expected (copied)") \
  X(kernel_stats_unreadable, "reads of the kernel's counters that failed (the last values were kept)") \
  X(kernel_sweep_errors, "sweeps of exited processes' kernel state that failed (retried next second)") \
  X(stats_file_errors, "writes of the --stats-file that failed")                 \
  X(tls_files_hooked, "TLS library files (or executables) with uprobes attached") \
  X(tls_attach_failures, "TLS library files whose uprobes could not be attached") \
  X(k8s_lists, "complete LISTs read from the Kubernetes API")                    \
  X(k8s_watch_restarts, "Kubernetes watches resumed from their resourceVersion") \
  X(k8s_relists_gone, "Kubernetes LISTs forced by 410 Gone")                     \
  X(k8s_api_errors, "failed Kubernetes API requests (retried with backoff)")     \
  X(k8s_objects_ignored, "Kubernetes objects too malformed to use")

// Values that go up and down, set by their owner (help text for /metrics).
#define SPANWIRE_GAUGES(X)                                                       \
  X(connections_tracked, "connections tracked in userspace now")                \
  X(spans_held_linker, "spans waiting in the stitching window")                 \
  X(spans_held_sampler, "spans waiting for their trace's tail-sampling decision") \
  X(export_queue_spans, "spans waiting in the export queue")                    \
  X(export_queue_bytes, "estimated bytes of the spans waiting in the export queue") \
  X(hooks_attached, "kernel hooks attached (tracepoints and uprobes)")          \
  X(tls_files_attached, "TLS library files with uprobes attached now")          \
  X(k8s_pods_cached, "pods of this node in the Kubernetes metadata cache")      \
  X(ready, "1 once every probe is attached and the pipeline runs")

// Export call latency, cumulative buckets in seconds (Prometheus histogram).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,    2.5,   5,    10,  30};
  void observe(double seconds);
  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> counts{};  // per bucket, last = +Inf (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  Snapshot data_;
};

// Counters with one label value each (e.g. export failures by reason).
class LabeledCounter {
 public:
  void add(const std::string& label, uint64_t n = 1);
  std::map<std::string, uint64_t> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> values_;
};

class Metrics {
 public:
#define SPANWIRE_DECLARE_COUNTER(name, help) std::atomic<uint64_t> name{0};
  SPANWIRE_USERSPACE_COUNTERS(SPANWIRE_DECLARE_COUNTER)
  SPANWIRE_GAUGES(SPANWIRE_DECLARE_COUNTER)
#undef SPANWIRE_DECLARE_COUNTER

  LatencyHistogram export_latency;       // one observation per export attempt
  LabeledCounter export_failures;        // attempts that failed, by reason ("unavailable", "http_503", ...)
  // Each protocol module's own counters (parse errors, resyncs, ...), labelled
  // with the protocol; in JSON as "<protocol>_<counter>".
  CounterBoard protocols;

  nlohmann::json to_json() const;
  // One line, only non-zero counters: for the log at shutdown.
  std::string summary() const;
};

}  // namespace spanwire
