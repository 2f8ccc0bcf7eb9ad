// The sensor's userspace path on canned kernel events, as the pipeline thread
// runs it: event decoder -> connection tracker -> HTTP/1 session -> span
// assembler and builder -> peer naming -> linker -> RED metrics -> sampler,
// into a sink that keeps nothing. Both ends of every exchange are traced (a
// client process and a server process, as a load generator and nginx, tied by
// sequence numbers), so each exchange gives two spans that the linker joins;
// the items/s reported are spans. BM_PipelineDecided adds the kernel's
// contexts behind the requests' payloads (trace context propagation on, the
// default: the kernel decides every span's ids); BM_PipelineAndEncode adds the OTLP encoding the export threads
// do, in batches of 512.
//
// This is "CPU per span" without the kernel, the ring buffer and the machine's
// noise: what a change to a userspace stage buys shows here first, then in
// run_bench.py's end-to-end figure.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "cli/pipeline_stages.h"
#include "config/config.h"
#include "export/exporter.h"
#include "export/otlp_trace_encoder.h"
#include "metrics/metrics.h"
#include "span/trace_context.h"
#include "spanwire.h"

namespace spanwire {
namespace {

constexpr uint64_t kMs = 1'000'000;

// The end of the chain: counts spans, or encodes them to OTLP in batches.
class Sink final : public SpanExporter {
 public:
  explicit Sink(bool encode) : encode_(encode) {}
  void consume(Span span) override {
    ++spans;
    if (!encode_) return;
    batch_.push_back(std::move(span));
    if (batch_.size() == 512) encode_batch();
  }
  void flush(std::chrono::milliseconds) override {
    if (encode_ && !batch_.empty()) encode_batch();
  }
  uint64_t spans = 0;
  uint64_t bytes = 0;

 private:
  void encode_batch() {
    bytes += encoder_.encode(batch_).size();
    batch_.clear();
  }
  bool encode_;
  std::vector<Span> batch_;
  OtlpTraceEncoder encoder_;
};

void set_loopback(uint8_t (&addr)[16]) {
  std::memset(addr, 0, sizeof(addr));
  addr[10] = addr[11] = 0xff;  // ::ffff:127.0.0.1
  addr[12] = 127;
  addr[15] = 1;
}

// One keep-alive connection seen from both ends, and its streams' positions.
class ConnectionPair {
 public:
  ConnectionPair(EventDecoder& decoder, uint32_t client_tgid, uint32_t server_tgid, int index, uint64_t ts)
      : decoder_(decoder), client_{client_tgid, 100 + index}, server_{server_tgid, 100 + index} {
    open(client_, SW_ROLE_CLIENT, uint16_t(40000 + index), 8080, ts);
    open(server_, SW_ROLE_SERVER, 8080, uint16_t(40000 + index), ts);
  }

  // The client writes the request, the server reads it and writes the
  // response, the client reads it: four data events, as the kernel sends them
  // (with propagation on, the requests' ids behind the payloads).
  void exchange(const std::string& request, const std::string& response, bool decided, uint64_t& ts) {
    const Decided ids = decided ? decide() : Decided{};
    data(client_, SW_DIR_EGRESS, request_pos_, response_pos_, kRequestSeq, request, ts += 20'000,
         decided ? &ids.client : nullptr);
    data(server_, SW_DIR_INGRESS, request_pos_, response_pos_, kRequestSeq, request, ts += 10'000,
         decided ? &ids.server : nullptr);
    request_pos_ += request.size();
    data(server_, SW_DIR_EGRESS, response_pos_, request_pos_, kResponseSeq, response, ts += 30'000);
    data(client_, SW_DIR_INGRESS, response_pos_, request_pos_, kResponseSeq, response, ts += 10'000);
    response_pos_ += response.size();
  }

 private:
  static constexpr uint32_t kRequestSeq = 1000, kResponseSeq = 5000;
  struct End {
    uint32_t tgid;
    int fd;
  };
  struct Decided {
    sw_request_context client{}, server{};
  };

  // What the kernel decides with propagation on: the client's ids before its
  // request leaves (a fresh root), the server's when it reads it (taken from
  // the local client of the same exchange).
  Decided decide() {
    ++sequence_;
    Decided ids;
    sw_request_context& client = ids.client;
    client.pos = request_pos_;
    client.direction = SW_DIR_EGRESS;
    client.source = SW_CTX_FRESH;
    client.flags = SW_CTX_ON_WIRE | SW_CTX_FLAGS_CERTAIN;  // a fresh root's flag is its own
    client.trace_flags = 1;
    std::memcpy(client.trace_id, &sequence_, sizeof sequence_);
    client.trace_id[15] = 1;
    std::memcpy(client.span_id, &sequence_, sizeof sequence_);
    client.span_id[7] = 1;
    sw_request_context& server = ids.server;
    server = client;
    server.direction = SW_DIR_INGRESS;
    server.source = SW_CTX_LOCAL;
    server.flags = SW_CTX_FLAGS_CERTAIN;  // inherited from the client on this host
    std::memcpy(server.parent_id, client.span_id, sizeof server.parent_id);
    server.span_id[7] = 2;
    return ids;
  }

  void open(const End& end, uint8_t role, uint16_t local_port, uint16_t remote_port, uint64_t ts) {
    sw_open_event ev{};
    ev.hdr.type = SW_EV_OPEN;
    ev.hdr.tid = end.tgid;
    ev.hdr.ts_ns = ts;
    ev.hdr.conn = {end.tgid, end.fd, 1};
    set_loopback(ev.local_addr);
    set_loopback(ev.remote_addr);
    ev.local_port = local_port;
    ev.remote_port = remote_port;
    ev.family = 2;  // AF_INET
    ev.role = role;
    ev.protocol = SW_PROTO_HTTP1;
    std::strncpy(ev.comm, "bench", sizeof(ev.comm));
    decoder_.handle(&ev, sizeof(ev), ts);
  }

  void data(const End& end, uint8_t dir, uint64_t pos, uint64_t peer_pos, uint32_t seq, const std::string& bytes,
            uint64_t ts, const sw_request_context* context = nullptr) {
    auto* ev = reinterpret_cast<sw_data_event*>(buffer_);
    std::memset(ev, 0, SW_DATA_HEADER_SIZE);
    ev->hdr.type = SW_EV_DATA;
    ev->hdr.tid = end.tgid + 1;
    ev->hdr.ts_ns = ts;
    ev->hdr.conn = {end.tgid, end.fd, 1};
    ev->ts_start_ns = ts - 5'000;
    ev->pos = pos;
    ev->len = static_cast<uint32_t>(bytes.size());
    ev->copied = ev->len;
    ev->direction = dir;
    ev->syscall = dir == SW_DIR_EGRESS ? SW_SYS_WRITE : SW_SYS_READ;
    ev->flags = SW_DATA_SEQ;
    ev->seq_minus_pos = seq;
    ev->peer_pos = peer_pos;
    std::memcpy(ev->data, bytes.data(), bytes.size());
    size_t size = SW_DATA_HEADER_SIZE + bytes.size();
    if (context != nullptr) {
      const size_t trailer = SW_CONTEXT_TRAILER_OFFSET(bytes.size());
      std::memcpy(ev->data + trailer, context, sizeof(*context));
      ev->flags |= SW_DATA_CONTEXT;
      size = SW_DATA_HEADER_SIZE + trailer + sizeof(*context);
    }
    decoder_.handle(ev, size, ts);
  }

  EventDecoder& decoder_;
  End client_, server_;
  uint64_t request_pos_ = 0, response_pos_ = 0;
  uint64_t sequence_ = 0;  // makes the ids of each exchange unique
  alignas(8) uint8_t buffer_[sizeof(sw_data_event) + sizeof(sw_request_context)];
};

// What curl sends to nginx for a small file, and nginx's answer (600 bytes).
const std::string kRequest =
    "GET /small.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
std::string small_response() {
  const std::string body(600, 'x');
  return "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 12:00:00 GMT\r\n"
         "Content-Type: text/html\r\nContent-Length: 600\r\nLast-Modified: Thu, 03 Dec 2026 11:00:00 GMT\r\n"
         "Connection: keep-alive\r\nETag: \"6740-258\"\r\nAccept-Ranges: bytes\r\n\r\n" +
         body;
}

// The stages run_pipeline drives, in the sensor's default configuration,
// ending in the sink instead of an exporter.
struct Pipeline {
  explicit Pipeline(bool encode) : sink(encode), stages(Config{}, sink, metrics, PeerNamer::Lookup()) {}
  Metrics metrics;
  Sink sink;
  PipelineStages stages;
};

// 16 keep-alive connections, 10,000 exchanges a second of simulated time
// (the linker holds a window's worth, as in the sensor), ticked every 100 ms.
void run(benchmark::State& state, bool encode, bool decided) {
  Pipeline p(encode);
  // Processes that exist, so that their resources are read as the sensor reads them.
  const uint32_t client = static_cast<uint32_t>(getpid()), server = static_cast<uint32_t>(getppid());
  const std::string response = small_response();
  uint64_t ts = monotonic_now_ns();
  uint64_t last_tick = ts;
  std::vector<ConnectionPair> pairs;
  for (int i = 0; i < 16; ++i) pairs.emplace_back(p.stages.decoder, client, server, i, ts);
  size_t next = 0;
  for (auto _ : state) {
    pairs[next].exchange(kRequest, response, decided, ts);
    next = (next + 1) % pairs.size();
    ts += 30'000;  // 100 µs of simulated time per exchange, with the 70 µs above
    if (ts - last_tick >= 100 * kMs) {
      p.stages.tick(ts);
      last_tick = ts;
    }
  }
  state.counters["held_by_linker"] = double(p.stages.linker.held());  // spans waiting for their window at the end
  p.stages.tick(ts + 10'000 * kMs);
  p.sink.flush(std::chrono::milliseconds(0));
  state.SetItemsProcessed(static_cast<int64_t>(p.sink.spans));
  if (p.sink.spans < 2 * static_cast<uint64_t>(state.iterations()) * 9 / 10)
    state.SkipWithError("fewer spans than two per exchange: the canned events no longer make spans");
  state.counters["spans_per_exchange"] = double(p.sink.spans) / double(state.iterations());
  state.counters["linked"] = double(p.metrics.spans_linked_tuple + p.metrics.spans_linked_wire);
  state.counters["decided"] = double(p.metrics.spans_context_kernel);
}

void BM_Pipeline(benchmark::State& state) { run(state, false, false); }
void BM_PipelineDecided(benchmark::State& state) { run(state, false, true); }
void BM_PipelineAndEncode(benchmark::State& state) { run(state, true, true); }

BENCHMARK(BM_Pipeline);
BENCHMARK(BM_PipelineDecided);
BENCHMARK(BM_PipelineAndEncode);

}  // namespace
}  // namespace spanwire

BENCHMARK_MAIN();
