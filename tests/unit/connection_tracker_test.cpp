// The tracker fed with canned kernel events, exactly as the ring buffer delivers them.
#include "conn/connection_tracker.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "http1/counters.h"
#include "metrics/metrics.h"
#include "protocol_ids.h"

namespace spanwire {
namespace {

// What these tests check of an HTTP/1 exchange record.
struct Seen {
  std::string target;
  int64_t status = 0;
  int64_t request_body = -1, response_body = -1;
  uint64_t start_ts = 0, end_ts = 0;
  bool answered = false;
};

struct Collected : ConnectionObserver {
  void on_connection_open(const ConnectionInfo& c) override { opened.push_back(c); }
  void on_exchange(const ConnectionInfo& c, ExchangeRecord&& r) override {
    roles.push_back(c.role);
    const auto& a = r.attributes;
    exchanges.push_back({string_attribute(a, "url.path"), int_attribute(a, "http.response.status_code").value_or(0),
                         int_attribute(a, "http.request.body.size").value_or(-1),
                         int_attribute(a, "http.response.body.size").value_or(-1), r.start_ts, r.end_ts, r.answered});
  }
  void on_process_exit(uint32_t tgid) override { exited.push_back(tgid); }
  std::vector<ConnectionInfo> opened;
  std::vector<Role> roles;
  std::vector<Seen> exchanges;
  std::vector<uint32_t> exited;
};

uint64_t unpaired_requests(const Metrics& m) {
  return m.protocols.of(protocol_id::HTTP1).value(http1::counter::requests_unpaired_after_loss);
}

constexpr uint32_t kTgid = 4242;
constexpr int32_t kFd = 7;
constexpr uint64_t kStart = 1'000'000;

sw_open_event open_event(uint8_t role, uint8_t flags = 0) {
  sw_open_event ev{};
  ev.hdr.type = SW_EV_OPEN;
  ev.hdr.conn = {kTgid, kFd, kStart};
  ev.local_addr[10] = ev.local_addr[11] = 0xff;
  ev.local_addr[12] = 127;
  ev.local_addr[15] = 1;
  std::memcpy(ev.remote_addr, ev.local_addr, 16);
  ev.local_port = 8000;
  ev.remote_port = 40000;
  ev.role = role;
  ev.protocol = SW_PROTO_HTTP1;
  ev.flags = flags;
  std::strcpy(ev.comm, "python3");
  return ev;
}

class TrackerTest : public ::testing::Test {
 protected:
  Metrics metrics;
  Collected seen;
  ConnectionTracker tracker{{}, metrics, seen};
  uint64_t pos[2] = {0, 0};
  uint64_t ts = 10'000;
  std::unique_ptr<sw_data_event> ev = std::make_unique<sw_data_event>();

  void data(uint8_t dir, std::string_view bytes, uint64_t moved = 0, uint8_t flags = 0) {
    data_to(tracker, dir, bytes, moved, flags);
  }
  void data_to(ConnectionTracker& t, uint8_t dir, std::string_view bytes, uint64_t moved = 0, uint8_t flags = 0) {
    if (moved == 0) moved = bytes.size();
    std::memset(ev.get(), 0, SW_DATA_HEADER_SIZE);
    ev->hdr.type = SW_EV_DATA;
    ev->hdr.conn = {kTgid, kFd, kStart};
    ev->hdr.ts_ns = ts + 5;
    ev->ts_start_ns = ts;
    ev->pos = pos[dir];
    ev->peer_pos = pos[dir ^ 1];  // as the kernel counts: every byte, seen or not
    ev->len = static_cast<uint32_t>(moved);
    ev->copied = static_cast<uint32_t>(bytes.size());
    ev->direction = dir;
    ev->flags = flags;
    pos[dir] += moved;
    ts += 100;
    t.on_data(*ev, bytes, ts);
  }
  void close_conn(uint32_t flags = 0) {
    sw_close_event c{};
    c.flags = flags;
    c.hdr.type = SW_EV_CLOSE;
    c.hdr.conn = {kTgid, kFd, kStart};
    c.hdr.ts_ns = ts;
    c.bytes_egress = pos[SW_DIR_EGRESS];
    c.bytes_ingress = pos[SW_DIR_INGRESS];
    tracker.on_close(c);
  }
};

TEST_F(TrackerTest, ServerExchangeFromIngressRequestAndEgressResponse) {
  tracker.on_open(open_event(SW_ROLE_SERVER), 0);
  ASSERT_EQ(seen.opened.size(), 1u);
  EXPECT_EQ(seen.opened[0].comm, "python3");
  EXPECT_EQ(seen.opened[0].local.address(), "127.0.0.1");
  data(SW_DIR_INGRESS, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.roles[0], Role::kServer);
  const auto& ex = seen.exchanges[0];
  EXPECT_EQ(ex.target, "/a");
  ASSERT_TRUE(ex.answered);
  EXPECT_EQ(ex.status, 200);
  // Ingress bytes are stamped when the read returned, egress when the write started.
  EXPECT_EQ(ex.start_ts, 10'005u);
  EXPECT_EQ(ex.end_ts, 10'100u);
  EXPECT_EQ(metrics.exchanges, 1u);
  EXPECT_EQ(metrics.connections_opened, 1u);
}

// The kernel stopped tracing the connection to shed load (SW_CLOSE_SHED): the
// request in flight is left out and counted as shed, neither "no response"
// nor a loss; what was answered before is exported.
TEST_F(TrackerTest, ShedCutLeavesTheRequestInFlightOutCountedAsShed) {
  tracker.on_open(open_event(SW_ROLE_SERVER), 0);
  data(SW_DIR_INGRESS, "GET /a HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  data(SW_DIR_INGRESS, "GET /b HTTP/1.1\r\n\r\n");
  close_conn(SW_CLOSE_SHED);
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.exchanges[0].target, "/a");
  EXPECT_EQ(metrics.exchanges_shed, 1u);
  EXPECT_EQ(metrics.exchanges_unanswered, 0u);
  EXPECT_EQ(unpaired_requests(metrics), 0u);
}

// A shed connection traced again starts midstream at a request's first byte
// (bpf/shed.bpf.h): its exchanges are whole, and a second cut is a shed too.
TEST_F(TrackerTest, ResumedConnectionStartsAtARequestAndIsCutCleanly) {
  pos[SW_DIR_INGRESS] = 5000;
  pos[SW_DIR_EGRESS] = 90000;
  tracker.on_open(open_event(SW_ROLE_SERVER, SW_OPEN_MIDSTREAM | SW_OPEN_RESUMED), 0);
  data(SW_DIR_INGRESS, "GET /a HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  data(SW_DIR_INGRESS, "GET /b HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  data(SW_DIR_INGRESS, "GET /c HTTP/1.1\r\n\r\n");
  close_conn(SW_CLOSE_SHED);
  ASSERT_EQ(seen.exchanges.size(), 2u);
  EXPECT_EQ(seen.exchanges[0].status, 200);
  EXPECT_EQ(seen.exchanges[1].status, 404);
  EXPECT_EQ(metrics.exchanges_shed, 1u);
  EXPECT_EQ(unpaired_requests(metrics), 0u);
}

TEST_F(TrackerTest, ClientRequestsAreEgress) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  data(SW_DIR_INGRESS, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.roles[0], Role::kClient);
  EXPECT_EQ(seen.exchanges[0].request_body, 3u);
  EXPECT_EQ(seen.exchanges[0].status, 201);
}

TEST_F(TrackerTest, SendfileBodyArrivesAsAGapInsideTheBody) {
  tracker.on_open(open_event(SW_ROLE_SERVER), 0);
  data(SW_DIR_INGRESS, "GET /big HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n");
  data(SW_DIR_EGRESS, "", 65536, SW_DATA_NO_COPY);
  data(SW_DIR_INGRESS, "GET /next HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(seen.exchanges.size(), 2u);
  EXPECT_EQ(seen.exchanges[0].response_body, 65536u);
  EXPECT_EQ(seen.exchanges[1].status, 204);
  EXPECT_EQ(metrics.stream_uncopied_bytes, 65536u);  // on purpose, not lost
  EXPECT_EQ(metrics.stream_gap_bytes, 0u);
}

// The kernel sent a response's head and counted the body after it in the same
// call, then counted the rest of the body in one event with no payload.
TEST_F(TrackerTest, BodyTheKernelCountedIsNotALoss) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "GET /f HTTP/1.1\r\n\r\n");
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n";
  data(SW_DIR_INGRESS, head, 8192, SW_DATA_BODY_COUNTED);
  data(SW_DIR_INGRESS, "", head.size() + 65536 - 8192, SW_DATA_NO_COPY);
  data(SW_DIR_EGRESS, "GET /g HTTP/1.1\r\n\r\n");
  data(SW_DIR_INGRESS, "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(seen.exchanges.size(), 2u);
  EXPECT_EQ(seen.exchanges[0].response_body, 65536u);
  EXPECT_EQ(seen.exchanges[1].status, 204);
  EXPECT_EQ(metrics.stream_uncopied_bytes, 65536u);
  EXPECT_EQ(metrics.stream_gap_bytes, 0u);
}

TEST_F(TrackerTest, TruncatedCopyOfALargeBodyKeepsParsing) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "GET /f HTTP/1.1\r\n\r\n");
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n";
  std::string copied = head + std::string(16384 - head.size(), 'b');
  data(SW_DIR_INGRESS, copied, head.size() + 40000);  // kernel copied 16 KiB of it
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.exchanges[0].response_body, 40000u);
}

// A Content-Length body the HTTP/1 session announced: its later chunks are
// skipped, not delivered, and the exchange is the same.
TEST_F(TrackerTest, AnnouncedBodyChunksAreSkippedNotDelivered) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "GET /f HTTP/1.1\r\n\r\n");
  data(SW_DIR_INGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n" + std::string(10000, 'b'));
  data(SW_DIR_INGRESS, std::string(20000, 'b'));
  data(SW_DIR_EGRESS, "GET /g HTTP/1.1\r\n\r\n");
  data(SW_DIR_INGRESS, "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(seen.exchanges.size(), 2u);
  EXPECT_EQ(seen.exchanges[0].response_body, 30000);
  EXPECT_EQ(seen.exchanges[1].status, 204);
  EXPECT_EQ(metrics.stream_body_bytes_skipped, 20000u);
  EXPECT_EQ(metrics.stream_gap_bytes, 0u);
}

TEST_F(TrackerTest, MidstreamConnectionResynchronises) {
  tracker.on_open(open_event(SW_ROLE_SERVER, SW_OPEN_MIDSTREAM), 0);
  pos[0] = 9000;  // the stream was already 9000 bytes old when the sensor started
  pos[1] = 4000;
  data(SW_DIR_INGRESS, "GET /later HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  // Pairing is certain once the client is seen waiting for an answer.
  data(SW_DIR_INGRESS, "GET /again HTTP/1.1\r\n\r\n");
  data(SW_DIR_EGRESS, "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.exchanges[0].target, "/again");
  EXPECT_EQ(unpaired_requests(metrics), 1u);
}

TEST_F(TrackerTest, CloseFlushesUnansweredRequests) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "GET /hang HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(seen.exchanges.empty());
  close_conn();
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_FALSE(seen.exchanges[0].answered);
  EXPECT_EQ(tracker.size(), 0u);
  EXPECT_EQ(metrics.exchanges_unanswered, 1u);
}

// The answer's events were lost, then the connection closed: the close event's
// byte counts show the loss, so the request is counted, not called unanswered.
TEST_F(TrackerTest, BytesLostBeforeTheCloseAreNotAMissingAnswer) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "GET /a HTTP/1.1\r\n\r\n");
  data(SW_DIR_INGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  data(SW_DIR_EGRESS, "GET /b HTTP/1.1\r\n\r\n");
  pos[SW_DIR_INGRESS] += 38;  // its answer moved, its event was dropped
  close_conn();
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.exchanges[0].target, "/a");
  EXPECT_EQ(metrics.exchanges_unanswered, 0u);
  EXPECT_EQ(unpaired_requests(metrics), 1u);
}

// Without the close event (reclaimed, process exit), the kernel's drop count
// decides whether a missing answer may have been lost.
TEST_F(TrackerTest, ReclaimAfterDropsCountsInsteadOfCallingItUnanswered) {
  for (uint64_t drops : {0, 5}) {
    Metrics m;
    Collected out;
    ConnectionTracker t{{}, m, out};
    t.on_open(open_event(SW_ROLE_CLIENT), 0);
    data_to(t, SW_DIR_EGRESS, "GET /hang HTTP/1.1\r\n\r\n");
    m.kernel_ringbuf_drops = drops;
    t.on_process_exit(kTgid);
    EXPECT_EQ(m.exchanges_unanswered, drops == 0 ? 1u : 0u) << drops;
    EXPECT_EQ(unpaired_requests(m), drops == 0 ? 0u : 1u) << drops;
  }
}

// The drop count is judged as it was before the connection's last event was
// made, not when that event was read: a backlog read after a stall comes
// after the stats that already counted the drops that hit its answers.
TEST_F(TrackerTest, DropsCountedBeforeABacklogIsReadStillMeanTheTailMayBeLost) {
  Metrics m;
  Collected out;
  ConnectionTracker t{{}, m, out};
  t.note_kernel_drops(1'000, 0);
  t.on_open(open_event(SW_ROLE_CLIENT), 0);
  m.kernel_ringbuf_drops = 7;  // the answer was dropped after the request was made (ts 10,005) ...
  t.note_kernel_drops(50'000, 7);  // ... and counted before the request's event was read
  data_to(t, SW_DIR_EGRESS, "GET /late HTTP/1.1\r\n\r\n");
  t.on_process_exit(kTgid);
  EXPECT_EQ(m.exchanges_unanswered, 0u);
  EXPECT_EQ(unpaired_requests(m), 1u);

  // Drops counted before the request was made say nothing about its answer.
  Metrics m2;
  Collected out2;
  ConnectionTracker t2{{}, m2, out2};
  m2.kernel_ringbuf_drops = 7;
  t2.note_kernel_drops(1'000, 7);
  t2.on_open(open_event(SW_ROLE_CLIENT), 0);
  data_to(t2, SW_DIR_EGRESS, "GET /hang HTTP/1.1\r\n\r\n");
  t2.on_process_exit(kTgid);
  EXPECT_EQ(m2.exchanges_unanswered, 1u);
}

// Drops the periodic reading has not seen yet: the process exits right after
// the ring buffer lost its answers. The tracker asks the kernel afresh.
TEST_F(TrackerTest, DropsNewerThanThePeriodicReadingAreReadAfreshAtClose) {
  for (bool can_read : {true, false}) {
    Metrics m;
    Collected out;
    ConnectionTracker t{{}, m, out};
    t.note_kernel_drops(1'000, 0);
    int asked = 0;
    t.read_kernel_drops = [&]() -> std::optional<uint64_t> {
      ++asked;
      if (!can_read) return std::nullopt;
      return 3;
    };
    t.on_open(open_event(SW_ROLE_CLIENT), 0);
    data_to(t, SW_DIR_EGRESS, "GET /late HTTP/1.1\r\n\r\n");
    t.on_process_exit(kTgid);
    EXPECT_EQ(asked, 1);
    // Unreadable: the last reading (no drops) is all there is to go by.
    EXPECT_EQ(m.exchanges_unanswered, can_read ? 0u : 1u) << can_read;
    EXPECT_EQ(unpaired_requests(m), can_read ? 1u : 0u) << can_read;
    EXPECT_EQ(m.kernel_ringbuf_drops, can_read ? 3u : 0u) << can_read;
  }
}

TEST_F(TrackerTest, CloseCompletesCloseDelimitedResponse) {
  tracker.on_open(open_event(SW_ROLE_CLIENT), 0);
  data(SW_DIR_EGRESS, "GET /old HTTP/1.0\r\n\r\n");
  data(SW_DIR_INGRESS, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
  close_conn();
  ASSERT_EQ(seen.exchanges.size(), 1u);
  ASSERT_TRUE(seen.exchanges[0].answered);
  EXPECT_EQ(seen.exchanges[0].response_body, 13u);
}

TEST_F(TrackerTest, DataForUnknownConnectionIsCountedAndReported) {
  std::vector<std::pair<uint32_t, int32_t>> forgotten;
  tracker.on_unknown_connection = [&](uint32_t t, int32_t f) { forgotten.emplace_back(t, f); };
  data(SW_DIR_EGRESS, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(metrics.events_orphaned, 1u);
  ASSERT_EQ(forgotten.size(), 1u);
  EXPECT_EQ(forgotten[0].first, kTgid);
  EXPECT_EQ(forgotten[0].second, kFd);
}

TEST_F(TrackerTest, ProcessExitClosesItsConnections) {
  tracker.on_open(open_event(SW_ROLE_SERVER), 0);
  data(SW_DIR_INGRESS, "GET /x HTTP/1.1\r\n\r\n");
  tracker.on_process_exit(kTgid);
  EXPECT_EQ(tracker.size(), 0u);
  ASSERT_EQ(seen.exchanges.size(), 1u);
  ASSERT_EQ(seen.exited.size(), 1u);
}

TEST_F(TrackerTest, OutOfOrderEventsAreReassembled) {
  tracker.on_open(open_event(SW_ROLE_SERVER), 0);
  std::string req = "GET /ooo HTTP/1.1\r\nHost: a\r\n\r\n";
  // Second half arrives first.
  pos[SW_DIR_INGRESS] = 10;
  data(SW_DIR_INGRESS, std::string_view(req).substr(10));
  pos[SW_DIR_INGRESS] = 0;
  data(SW_DIR_INGRESS, std::string_view(req).substr(0, 10));
  data(SW_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(seen.exchanges.size(), 1u);
  EXPECT_EQ(seen.exchanges[0].target, "/ooo");
}

TEST_F(TrackerTest, TableIsBounded) {
  ConnectionTracker::Limits limits;
  limits.max_connections = 2;
  ConnectionTracker small(limits, metrics, seen);
  for (int fd = 0; fd < 5; ++fd) {
    auto o = open_event(SW_ROLE_SERVER);
    o.hdr.conn.fd = fd;
    small.on_open(o, static_cast<uint64_t>(fd));
  }
  EXPECT_EQ(small.size(), 2u);
  EXPECT_EQ(metrics.connections_evicted, 3u);
}

}  // namespace
}  // namespace spanwire
