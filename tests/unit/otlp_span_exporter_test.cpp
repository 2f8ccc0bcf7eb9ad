#include "export/otlp_span_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <set>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "export/otlp_grpc_transport.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace spanwire {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
using namespace std::chrono_literals;

// Upper bound for every wait in this file; reached only when something is broken.
constexpr auto kPatience = 20s;

// A TraceService that records every request. It can hold calls at a gate (to
// keep the exporter's sender busy) and answer with a partial success.
class RecordingTraceService final : public collector::TraceService::Service {
 public:
  grpc::Status Export(grpc::ServerContext* context, const collector::ExportTraceServiceRequest* request,
                      collector::ExportTraceServiceResponse* response) override {
    std::unique_lock lock(mutex_);
    requests_.push_back(*request);
    for (const auto& [key, value] : context->client_metadata())
      metadata_.emplace(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
    changed_.notify_all();
    changed_.wait_for(lock, kPatience, [&] { return gate_open_; });
    if (fail_next_ > 0) {
      --fail_next_;
      return fail_status_;
    }
    if (reject_ > 0) response->mutable_partial_success()->set_rejected_spans(reject_);
    if (reject_ > 0) response->mutable_partial_success()->set_error_message("bad spans");
    return grpc::Status::OK;
  }

  void close_gate() { set_gate(false); }
  void open_gate() { set_gate(true); }
  // The next `n` calls fail with `status` (their requests are still recorded).
  void fail_next(int n, grpc::Status status) {
    std::lock_guard lock(mutex_);
    fail_next_ = n;
    fail_status_ = std::move(status);
  }
  void reject_next(int64_t spans) {
    std::lock_guard lock(mutex_);
    reject_ = spans;
  }

  bool wait_for_calls(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return requests_.size() >= n; });
  }
  std::vector<collector::ExportTraceServiceRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::multimap<std::string, std::string> metadata() {
    std::lock_guard lock(mutex_);
    return metadata_;
  }

 private:
  void set_gate(bool open) {
    std::lock_guard lock(mutex_);
    gate_open_ = open;
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<collector::ExportTraceServiceRequest> requests_;
  std::multimap<std::string, std::string> metadata_;
  bool gate_open_ = true;
  int64_t reject_ = 0;
  int fail_next_ = 0;
  grpc::Status fail_status_;
};

// The service, served on 127.0.0.1 at a free port (or the given one).
class TestCollector {
 public:
  explicit TestCollector(int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~TestCollector() {
    service_.open_gate();  // Shutdown waits for handlers; release any held call
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }
  bool running() const { return server_ != nullptr && port_ != 0; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  RecordingTraceService& service() { return service_; }

 private:
  RecordingTraceService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A TCP port with nothing listening on it: bound (so no one else takes it)
// but never listen()ed, so connecting is refused.
class ClosedPort {
 public:
  ClosedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() { release(); }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  // Frees the port so a server can take it.
  void release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

std::vector<std::shared_ptr<const Resource>> make_resources(size_t n) {
  std::vector<std::shared_ptr<const Resource>> out;
  for (size_t i = 0; i < n; ++i) {
    auto r = std::make_shared<Resource>();
    r->pid = static_cast<uint32_t>(100 + i);
    r->attributes = {{"process.pid", int64_t{r->pid}}};
    out.push_back(std::move(r));
  }
  return out;
}

Span make_span(size_t i, std::shared_ptr<const Resource> resource) {
  Span s;
  s.trace_id.fill(1);
  s.span_id.fill(2);
  s.name = "span-" + std::to_string(i);
  s.kind = SpanKind::kServer;
  s.resource = std::move(resource);
  return s;
}

size_t span_count(const collector::ExportTraceServiceRequest& request) {
  size_t n = 0;
  for (const auto& rs : request.resource_spans())
    for (const auto& ss : rs.scope_spans()) n += static_cast<size_t>(ss.spans_size());
  return n;
}

std::vector<std::string> span_names(const collector::ExportTraceServiceRequest& request) {
  std::vector<std::string> names;
  for (const auto& rs : request.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& s : ss.spans()) names.push_back(s.name());
  return names;
}

struct TestOptions {
  std::string endpoint;
  OtlpSpanExporter::Options exporter;
  std::chrono::milliseconds timeout = 5s;
  std::vector<std::pair<std::string, std::string>> headers;
};

TestOptions options_for(const std::string& endpoint) {
  TestOptions o;
  o.endpoint = endpoint;
  o.exporter.batch_timeout = 1h;  // batches go out by size or flush only, unless a test says otherwise
  o.exporter.retry.initial = 10ms;
  o.exporter.retry.max_interval = 50ms;
  o.exporter.retry.max_elapsed = 0ms;  // no retries unless a test asks for them
  o.exporter.consumers = 1;  // one call at a time unless a test asks for more: request order is then fixed
  return o;
}

std::unique_ptr<OtlpSpanExporter> make_exporter(const TestOptions& o, Metrics& metrics) {
  OtlpSettings settings;
  settings.endpoint = o.endpoint;
  settings.protocol = OtlpProtocol::kGrpc;
  settings.insecure = true;
  settings.timeout = o.timeout;
  settings.headers = o.headers;
  return std::make_unique<OtlpSpanExporter>([settings] { return std::make_unique<OtlpGrpcTransport>(settings); },
                                            o.exporter, metrics);
}

// Waits (bounded by kPatience) until the sender thread has brought the
// counters to the state `done` describes. flush() is the shutdown flush and
// retries nothing, so tests of retrying wait for the outcome instead.
template <typename Predicate>
bool wait_until(Predicate done) {
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class OtlpSpanExporterTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }
  Metrics metrics;
};

TEST_F(OtlpSpanExporterTest, SendsFullBatchesThenFlushesTheRestGroupedByResource) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  const auto resources = make_resources(2);
  {
    auto options = options_for(collector.endpoint());
    options.exporter.max_batch_size = 512;
    auto exporter_ptr = make_exporter(options, metrics);
    auto& exporter = *exporter_ptr;
    for (size_t i = 0; i < 1200; ++i) exporter.consume(make_span(i, resources[i % 2]));
    ASSERT_TRUE(collector.service().wait_for_calls(2));
    exporter.flush(kPatience);
  }

  const auto requests = collector.service().requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(span_count(requests[0]), 512u);
  EXPECT_EQ(span_count(requests[1]), 512u);
  EXPECT_EQ(span_count(requests[2]), 176u);
  std::set<std::string> names;
  for (const auto& request : requests) {
    ASSERT_EQ(request.resource_spans_size(), 2);  // one per resource, first seen first
    EXPECT_EQ(request.resource_spans(0).resource().attributes(0).value().int_value(), 100);
    EXPECT_EQ(request.resource_spans(1).resource().attributes(0).value().int_value(), 101);
    for (const auto& rs : request.resource_spans()) {
      const int64_t pid = rs.resource().attributes(0).value().int_value();
      for (const auto& s : rs.scope_spans(0).spans()) {
        const size_t index = std::stoul(s.name().substr(5));
        EXPECT_EQ(pid, static_cast<int64_t>(100 + index % 2)) << s.name();
        names.insert(s.name());
      }
    }
  }
  EXPECT_EQ(names.size(), 1200u);
  EXPECT_EQ(metrics.export_batches, 3u);
  EXPECT_EQ(metrics.spans_exported, 1200u);
  EXPECT_EQ(metrics.export_batches_failed, 0u);
  EXPECT_EQ(metrics.spans_dropped_queue_full, 0u);
}

// A slow collector does not cap export at one batch per call time: several
// calls are in flight, each consumer with its own connection.
TEST_F(OtlpSpanExporterTest, KeepsSeveralBatchesInFlight) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  const auto resources = make_resources(1);
  {
    auto options = options_for(collector.endpoint());
    options.exporter.max_batch_size = 100;
    options.exporter.consumers = 3;
    auto exporter = make_exporter(options, metrics);
    collector.service().close_gate();  // every call is held until the gate opens
    for (size_t i = 0; i < 500; ++i) exporter->consume(make_span(i, resources[0]));
    ASSERT_TRUE(collector.service().wait_for_calls(3)) << "three calls held at once";
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(collector.service().requests().size(), 3u) << "never more than the consumers";
    collector.service().open_gate();
    exporter->flush(kPatience);
    EXPECT_EQ(metrics.spans_exported.load(), 500u) << "flush waits for every batch in flight";
  }
  const auto requests = collector.service().requests();
  ASSERT_EQ(requests.size(), 5u);
  std::set<std::string> names;
  for (const auto& r : requests)
    for (const auto& n : span_names(r)) names.insert(n);
  EXPECT_EQ(names.size(), 500u) << "each span exactly once";
}

TEST_F(OtlpSpanExporterTest, SendsAPartialBatchWhenTheBatchTimeoutPasses) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.batch_timeout = 20ms;
  auto exporter_ptr = make_exporter(options, metrics);
    auto& exporter = *exporter_ptr;
  const auto resources = make_resources(1);
  for (size_t i = 0; i < 3; ++i) exporter.consume(make_span(i, resources[0]));
  exporter.end_of_pass();
  // No flush: only the timer can send these.
  ASSERT_TRUE(collector.service().wait_for_calls(1));
  EXPECT_EQ(span_count(collector.service().requests()[0]), 3u);
}

// The spans of a pass wait for its end (or a batch's worth) to enter the
// queue together: the queue's lock is taken once per pass, not per span.
TEST_F(OtlpSpanExporterTest, SpansOfAPassEnterTheQueueAtItsEnd) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.batch_timeout = 1ms;
  options.exporter.max_batch_size = 10;
  auto exporter = make_exporter(options, metrics);
  const auto resources = make_resources(1);
  for (size_t i = 0; i < 4; ++i) exporter->consume(make_span(i, resources[0]));
  std::this_thread::sleep_for(100ms);  // a hundred batch timeouts
  EXPECT_TRUE(collector.service().requests().empty()) << "staged spans are not queued before the pass ends";
  EXPECT_EQ(metrics.export_queue_spans.load(), 0u);
  exporter->end_of_pass();
  ASSERT_TRUE(collector.service().wait_for_calls(1));
  EXPECT_EQ(span_names(collector.service().requests()[0]),
            (std::vector<std::string>{"span-0", "span-1", "span-2", "span-3"}));
  // A batch's worth goes at once, without waiting for the pass to end.
  for (size_t i = 4; i < 14; ++i) exporter->consume(make_span(i, resources[0]));
  ASSERT_TRUE(collector.service().wait_for_calls(2));
  EXPECT_EQ(span_count(collector.service().requests()[1]), 10u);
}

// Spans still staged when the exporter is destroyed are counted as dropped.
TEST_F(OtlpSpanExporterTest, DestructorCountsStagedSpans) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  {
    auto exporter = make_exporter(options_for(collector.endpoint()), metrics);
    const auto resources = make_resources(1);
    for (size_t i = 0; i < 3; ++i) exporter->consume(make_span(i, resources[0]));
  }
  EXPECT_EQ(metrics.spans_dropped_export_failed.load(), 3u);
  EXPECT_TRUE(collector.service().requests().empty());
}

TEST_F(OtlpSpanExporterTest, FullQueueDropsTheOldestSpans) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.max_batch_size = 10;
  options.exporter.max_queue_size = 20;
  auto exporter_ptr = make_exporter(options, metrics);
    auto& exporter = *exporter_ptr;
  const auto resources = make_resources(1);

  // Hold the first batch at the collector so the sender cannot drain the queue.
  collector.service().close_gate();
  for (size_t i = 0; i < 10; ++i) exporter.consume(make_span(i, resources[0]));
  ASSERT_TRUE(collector.service().wait_for_calls(1));
  // 30 more into a queue of 20: spans 10..19 make way for 30..39.
  for (size_t i = 10; i < 40; ++i) exporter.consume(make_span(i, resources[0]));
  EXPECT_EQ(metrics.spans_dropped_queue_full, 10u);
  collector.service().open_gate();
  exporter.flush(kPatience);

  const auto requests = collector.service().requests();
  std::vector<std::string> received;
  for (const auto& r : requests)
    for (auto& name : span_names(r)) received.push_back(std::move(name));
  std::vector<std::string> expected;
  for (size_t i = 0; i < 10; ++i) expected.push_back("span-" + std::to_string(i));
  for (size_t i = 20; i < 40; ++i) expected.push_back("span-" + std::to_string(i));
  EXPECT_EQ(received, expected);
  EXPECT_EQ(requests.size(), 3u);
  EXPECT_EQ(metrics.spans_exported, 30u);
}

TEST_F(OtlpSpanExporterTest, UnreachableCollectorCountsFailedBatchesWithoutHanging) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  auto options = options_for("127.0.0.1:" + std::to_string(closed.port()));
  options.exporter.max_batch_size = 10;
  options.timeout = 500ms;
  {
    auto exporter = make_exporter(options, metrics);
    const auto resources = make_resources(1);
    for (size_t i = 0; i < 25; ++i) exporter->consume(make_span(i, resources[0]));
    exporter->flush(kPatience);
    EXPECT_EQ(metrics.export_batches_failed, 3u);
    EXPECT_EQ(metrics.spans_dropped_export_failed, 25u);
  }
  EXPECT_EQ(metrics.export_batches, 0u);
  EXPECT_EQ(metrics.spans_exported, 0u);
  EXPECT_EQ(metrics.export_failures.snapshot()["unavailable"], 3u);
  EXPECT_EQ(metrics.export_latency.snapshot().count, 3u);
}

TEST_F(OtlpSpanExporterTest, RetriesUntilTheCollectorComesUpAndDeliversOnce) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  auto options = options_for("127.0.0.1:" + std::to_string(closed.port()));
  options.timeout = 500ms;
  options.exporter.batch_timeout = 10ms;
  options.exporter.retry.max_elapsed = kPatience;
  auto exporter = make_exporter(options, metrics);
  exporter->consume(make_span(0, make_resources(1)[0]));
  exporter->end_of_pass();
  // Let a few attempts fail, then start the collector on that port.
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (metrics.export_retries < 2 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(10ms);
  ASSERT_GE(metrics.export_retries, 2u);
  closed.release();
  TestCollector collector(closed.port());
  ASSERT_TRUE(collector.running());
  ASSERT_TRUE(wait_until([&] { return metrics.spans_exported + metrics.export_batches_failed > 0; }));
  EXPECT_EQ(metrics.spans_exported, 1u);
  EXPECT_EQ(metrics.export_batches, 1u);
  EXPECT_EQ(metrics.export_batches_failed, 0u);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 0u);
  EXPECT_EQ(collector.service().requests().size(), 1u);
}

TEST_F(OtlpSpanExporterTest, RetriesUnavailableButNotAPermanentError) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.retry.max_elapsed = kPatience;
  options.exporter.batch_timeout = 10ms;  // each span goes out on its own, without a flush
  auto exporter = make_exporter(options, metrics);
  const auto resources = make_resources(1);

  collector.service().fail_next(2, grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"));
  exporter->consume(make_span(0, resources[0]));
  exporter->end_of_pass();
  ASSERT_TRUE(wait_until([&] { return metrics.spans_exported + metrics.export_batches_failed > 0; }));
  EXPECT_EQ(collector.service().requests().size(), 3u);  // two failures, then delivered
  EXPECT_EQ(metrics.spans_exported, 1u);
  EXPECT_EQ(metrics.export_retries, 2u);

  collector.service().fail_next(1, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request"));
  exporter->consume(make_span(1, resources[0]));
  exporter->end_of_pass();
  ASSERT_TRUE(wait_until([&] { return metrics.export_batches_failed > 0; }));
  EXPECT_EQ(collector.service().requests().size(), 4u);  // not retried
  EXPECT_EQ(metrics.export_batches_failed, 1u);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 1u);
  EXPECT_EQ(metrics.export_failures.snapshot()["invalid_argument"], 1u);
}

TEST_F(OtlpSpanExporterTest, ResourceExhaustedIsRetriedOnlyWithRetryInfo) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.retry.max_elapsed = kPatience;
  options.exporter.batch_timeout = 10ms;  // each span goes out on its own, without a flush
  auto exporter = make_exporter(options, metrics);
  const auto resources = make_resources(1);

  collector.service().fail_next(1, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too big"));
  exporter->consume(make_span(0, resources[0]));
  exporter->end_of_pass();
  ASSERT_TRUE(wait_until([&] { return metrics.spans_dropped_export_failed > 0; }));
  EXPECT_EQ(collector.service().requests().size(), 1u);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 1u);

  google::rpc::Status details;
  details.set_code(static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_nanos(300'000'000);
  details.add_details()->PackFrom(retry);
  collector.service().fail_next(
      1, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down", details.SerializeAsString()));
  const auto before = std::chrono::steady_clock::now();
  exporter->consume(make_span(1, resources[0]));
  exporter->end_of_pass();
  ASSERT_TRUE(wait_until([&] { return metrics.spans_exported > 0; }));
  EXPECT_EQ(collector.service().requests().size(), 3u);
  EXPECT_EQ(metrics.spans_exported, 1u);
  // The server's 300 ms wins over the 10 ms backoff.
  EXPECT_GE(std::chrono::steady_clock::now() - before, 300ms);
}

TEST_F(OtlpSpanExporterTest, QueueMemoryCeilingDropsTheOldest) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.max_batch_size = 10;
  const size_t span_bytes = approx_span_bytes(make_span(100, make_resources(1)[0]));
  options.exporter.max_queue_bytes = span_bytes * 15;  // 15 spans fit, whatever the count limit says
  auto exporter = make_exporter(options, metrics);
  const auto resources = make_resources(1);
  collector.service().close_gate();
  for (size_t i = 0; i < 10; ++i) exporter->consume(make_span(100 + i, resources[0]));
  ASSERT_TRUE(collector.service().wait_for_calls(1));
  for (size_t i = 10; i < 40; ++i) exporter->consume(make_span(100 + i, resources[0]));
  EXPECT_EQ(metrics.spans_dropped_queue_full, 15u);
  EXPECT_LE(metrics.export_queue_bytes.load(), span_bytes * 15);
  collector.service().open_gate();
  exporter->flush(kPatience);
  EXPECT_EQ(metrics.spans_exported, 25u);
}

TEST_F(OtlpSpanExporterTest, CountsSpansTheCollectorRejects) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  collector.service().reject_next(2);
  auto exporter = make_exporter(options_for(collector.endpoint()), metrics);
  const auto resources = make_resources(1);
  for (size_t i = 0; i < 5; ++i) exporter->consume(make_span(i, resources[0]));
  exporter->flush(kPatience);
  EXPECT_EQ(metrics.export_batches, 1u);
  EXPECT_EQ(metrics.spans_exported, 3u);
  EXPECT_EQ(metrics.spans_rejected_partial, 2u);
  EXPECT_EQ(metrics.export_partial_successes, 1u);
  EXPECT_EQ(collector.service().requests().size(), 1u);  // a partial success is not retried
}

TEST_F(OtlpSpanExporterTest, SendsHeadersAsMetadata) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.headers = {{"Authorization", "Bearer s3cret"}, {"x-tenant", "blue"}};
  auto exporter = make_exporter(options, metrics);
  exporter->consume(make_span(0, make_resources(1)[0]));
  exporter->flush(kPatience);
  const auto metadata = collector.service().metadata();
  ASSERT_EQ(metadata.count("authorization"), 1u);
  EXPECT_EQ(metadata.find("authorization")->second, "Bearer s3cret");
  ASSERT_EQ(metadata.count("x-tenant"), 1u);
  EXPECT_EQ(metadata.find("x-tenant")->second, "blue");
}

TEST_F(OtlpSpanExporterTest, DestructorCancelsACallTheCollectorHoldsAndCountsTheRest) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  collector.service().close_gate();
  const auto before = std::chrono::steady_clock::now();
  {
    auto options = options_for(collector.endpoint());
    options.exporter.max_batch_size = 4;
    options.timeout = 60s;  // only the shutdown cancel can end the held call in time
    auto exporter = make_exporter(options, metrics);
    const auto resources = make_resources(1);
    for (size_t i = 0; i < 6; ++i) exporter->consume(make_span(i, resources[0]));
    ASSERT_TRUE(collector.service().wait_for_calls(1));
    exporter->flush(200ms);  // cannot finish: the collector holds the call
  }
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 6u);  // 4 in the cancelled call, 2 never sent
  EXPECT_EQ(metrics.spans_exported, 0u);
}

TEST_F(OtlpSpanExporterTest, DestructorInterruptsARetryWait) {
  ClosedPort closed;
  auto options = options_for("127.0.0.1:" + std::to_string(closed.port()));
  options.timeout = 200ms;
  options.exporter.batch_timeout = 10ms;
  options.exporter.retry.initial = 60s;  // a wait only stop() can end
  options.exporter.retry.max_interval = 60s;
  options.exporter.retry.max_elapsed = 600s;
  const auto before = std::chrono::steady_clock::now();
  {
    auto exporter = make_exporter(options, metrics);
    exporter->consume(make_span(0, make_resources(1)[0]));
    exporter->end_of_pass();
    const auto give_up = before + kPatience;
    while (metrics.export_retries == 0 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(metrics.export_retries, 1u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 1u);
}

// A batch that failed and waits out a long backoff when SIGTERM's flush
// starts: the flush ends the wait, the collector (back by then) gets one last
// attempt at once, and the flush returns long before the backoff would.
TEST_F(OtlpSpanExporterTest, FlushEndsARetryWaitWithOneLastAttempt) {
  TestCollector collector;
  ASSERT_TRUE(collector.running());
  auto options = options_for(collector.endpoint());
  options.exporter.retry.initial = 60s;
  options.exporter.retry.max_interval = 60s;
  options.exporter.retry.max_elapsed = 600s;
  options.exporter.batch_timeout = 10ms;
  auto exporter = make_exporter(options, metrics);
  collector.service().fail_next(1, grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"));
  exporter->consume(make_span(0, make_resources(1)[0]));
  exporter->end_of_pass();
  ASSERT_TRUE(wait_until([&] { return metrics.export_retries == 1; }));
  const auto before = std::chrono::steady_clock::now();
  exporter->flush(kPatience);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  EXPECT_EQ(collector.service().requests().size(), 2u);
  EXPECT_EQ(metrics.spans_exported, 1u);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 0u);
}

// With the collector refusing connections, a flush tries every queued batch
// once and drops (and counts) each failure instead of backing off.
TEST_F(OtlpSpanExporterTest, FlushWithTheCollectorDownTriesEachBatchOnceAndCountsTheDrops) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  auto options = options_for("127.0.0.1:" + std::to_string(closed.port()));
  options.timeout = 500ms;
  options.exporter.max_batch_size = 10;
  options.exporter.retry.initial = 60s;
  options.exporter.retry.max_interval = 60s;
  options.exporter.retry.max_elapsed = 600s;
  auto exporter = make_exporter(options, metrics);
  const auto resources = make_resources(1);
  for (size_t i = 0; i < 25; ++i) exporter->consume(make_span(i, resources[0]));
  ASSERT_TRUE(wait_until([&] { return metrics.export_retries == 1; }));  // the first batch waits 60 s
  const auto before = std::chrono::steady_clock::now();
  exporter->flush(kPatience);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  EXPECT_EQ(metrics.export_batches_failed, 3u);
  EXPECT_EQ(metrics.spans_dropped_export_failed, 25u);
  EXPECT_EQ(metrics.export_retries, 1u);  // the flush itself never backs off
}

TEST(Backoff, GrowsToTheCapWithJitterInBounds) {
  RetrySettings r;
  r.initial = 100ms;
  r.max_interval = 1000ms;
  r.multiplier = 2;
  r.jitter = 0.5;
  Backoff backoff(r.backoff(), 42);
  const int64_t bases[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t base : bases) {
    const auto d = backoff.next().count();
    EXPECT_GE(d, base / 2) << base;
    EXPECT_LE(d, base * 3 / 2) << base;
  }
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 150);
  // Jitter differs between sensors (seeds), so their retries spread out.
  Backoff a(r.backoff(), 1), b(r.backoff(), 2);
  EXPECT_NE(a.next(), b.next());
}

TEST(GrpcRetryRules, FollowTheOtlpSpecification) {
  using C = grpc::StatusCode;
  for (C c : {C::CANCELLED, C::DEADLINE_EXCEEDED, C::ABORTED, C::OUT_OF_RANGE, C::UNAVAILABLE, C::DATA_LOSS})
    EXPECT_TRUE(grpc_code_is_retryable(static_cast<int>(c), false)) << static_cast<int>(c);
  for (C c : {C::UNKNOWN, C::INVALID_ARGUMENT, C::NOT_FOUND, C::ALREADY_EXISTS, C::PERMISSION_DENIED,
              C::FAILED_PRECONDITION, C::UNIMPLEMENTED, C::INTERNAL, C::UNAUTHENTICATED})
    EXPECT_FALSE(grpc_code_is_retryable(static_cast<int>(c), false)) << static_cast<int>(c);
  EXPECT_FALSE(grpc_code_is_retryable(static_cast<int>(C::RESOURCE_EXHAUSTED), false));
  EXPECT_TRUE(grpc_code_is_retryable(static_cast<int>(C::RESOURCE_EXHAUSTED), true));
}

TEST(OtlpEndpoint, ParsesSchemesAndDefaultsThePort) {
  EXPECT_EQ(parse_otlp_endpoint("http://collector:1234").target, "collector:1234");
  EXPECT_FALSE(parse_otlp_endpoint("http://collector:1234").tls);
  EXPECT_EQ(parse_otlp_endpoint("https://otlp.example.com").target, "otlp.example.com:4317");
  EXPECT_TRUE(parse_otlp_endpoint("https://otlp.example.com").tls);
  EXPECT_EQ(parse_otlp_endpoint("127.0.0.1").target, "127.0.0.1:4317");
  // No scheme: TLS unless insecure (OTEL_EXPORTER_OTLP_INSECURE).
  EXPECT_TRUE(parse_otlp_endpoint("127.0.0.1:4317").tls);
  EXPECT_FALSE(parse_otlp_endpoint("127.0.0.1:4317", true).tls);
  EXPECT_TRUE(parse_otlp_endpoint("https://collector:4317", true).tls);
  EXPECT_EQ(parse_otlp_endpoint("http://collector:4317/").target, "collector:4317");
  EXPECT_EQ(parse_otlp_endpoint("[::1]").target, "[::1]:4317");
  EXPECT_EQ(parse_otlp_endpoint("http://[::1]:55680").target, "[::1]:55680");
  EXPECT_EQ(parse_otlp_endpoint("::1").target, "[::1]:4317");
}

TEST(OtlpEndpoint, RejectsWhatGrpcCannotUse) {
  for (const char* bad : {"", "http://", "ftp://collector", "collector:", "collector:http", "collector:70000",
                          ":4317", "[::1", "[::1]x"})
    EXPECT_THROW(parse_otlp_endpoint(bad), std::invalid_argument) << bad;
}

TEST(LogThrottle, LetsOneLineThroughPerIntervalAndCountsTheRest) {
  LogThrottle throttle(30s);
  const LogThrottle::Clock::time_point t0{};
  EXPECT_EQ(throttle.admit(t0 + 1s), 0u);
  EXPECT_EQ(throttle.admit(t0 + 2s), std::nullopt);
  EXPECT_EQ(throttle.admit(t0 + 30s), std::nullopt);
  EXPECT_EQ(throttle.admit(t0 + 31s), 2u);
  EXPECT_EQ(throttle.admit(t0 + 32s), std::nullopt);
}

Span named_span(int i) {
  Span s;
  s.name = "span " + std::to_string(i);
  return s;
}

// push_all: in order, the oldest dropped to make room, the batch whole.
TEST(SpanBatchQueue, PushAllKeepsOrderAndDropsTheOldestToFit) {
  SpanBatchQueue q(5, 1u << 20, 3, std::chrono::hours(1));
  std::vector<Span> spans;
  for (int i = 0; i < 7; ++i) spans.push_back(named_span(i));
  const auto pushed = q.push_all(spans);
  EXPECT_TRUE(spans.empty());
  EXPECT_EQ(pushed.dropped, 2u);
  EXPECT_EQ(pushed.size, 5u);
  EXPECT_EQ(q.size(), 5u);
  auto batch = q.next_batch();  // due at once: a batch's worth is queued
  ASSERT_TRUE(batch);
  std::vector<std::string> names;
  for (const Span& s : batch->spans) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"span 2", "span 3", "span 4"}));
}

// A consumer waiting on an empty queue wakes for a push_all that fills a batch.
TEST(SpanBatchQueue, PushAllWakesAWaitingConsumer) {
  SpanBatchQueue q(100, 1u << 20, 4, std::chrono::hours(1));
  std::optional<SpanBatchQueue::Batch> batch;
  std::atomic<bool> returned{false};
  std::thread consumer([&] {
    batch = q.next_batch();
    returned = true;
  });
  std::this_thread::sleep_for(20ms);  // most likely waiting by now; correct either way
  std::vector<Span> spans;
  for (int i = 0; i < 4; ++i) spans.push_back(named_span(i));
  q.push_all(spans);
  const bool woke = wait_until([&] { return returned.load(); });
  if (!woke) q.close();  // ends the wait, so the test fails rather than hangs
  consumer.join();
  ASSERT_TRUE(woke) << "the consumer was not woken";
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->spans.size(), 4u);
}

// With several consumers batches finish in any order: a flush is done only
// when every batch taken before it is.
TEST(SpanBatchQueue, FlushWaitsForEveryBatchInFlightWhateverOrderTheyFinish) {
  SpanBatchQueue q(100, 1u << 20, 2, std::chrono::hours(1));
  std::vector<Span> spans;
  for (int i = 0; i < 4; ++i) spans.push_back(named_span(i));
  q.push_all(spans);
  auto first = q.next_batch();
  auto second = q.next_batch();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->spans.size(), 2u);
  EXPECT_LT(first->last_seq, second->first_seq);
  q.batch_done(*second);
  EXPECT_FALSE(q.wait_flushed(std::chrono::milliseconds(10))) << "the first batch is still out";
  q.batch_done(*first);
  EXPECT_TRUE(q.wait_flushed(std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace spanwire
