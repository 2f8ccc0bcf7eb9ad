// Ring-buffer records as the kernel lays them out, through the decoder into the
// connection tracker: a request's context behind its data event's payload, in
// an event of its own, and records too short for what they claim.
#include "intake/event_decoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "conn/connection_tracker.h"
#include "metrics/metrics.h"

namespace spanwire {
namespace {

constexpr uint32_t kTgid = 77;
constexpr int32_t kFd = 5;
constexpr uint64_t kStart = 1'000;

// The context the tracker held for the request of each exchange it completed.
struct ContextAtExchange : ConnectionObserver {
  void on_connection_open(const ConnectionInfo&) override {}
  void on_exchange(const ConnectionInfo& c, ExchangeRecord&& r) override {
    const DecidedContext* d = c.streams[0].contexts.at(c.streams[0].origin + r.request_offset);
    seen.push_back(d ? std::optional<DecidedContext>(*d) : std::nullopt);
  }
  void on_process_exit(uint32_t) override {}
  std::vector<std::optional<DecidedContext>> seen;
};

sw_request_context server_context(uint64_t pos) {
  sw_request_context ctx{};
  ctx.pos = pos;
  ctx.direction = SW_DIR_INGRESS;
  ctx.source = SW_CTX_HEADER;
  ctx.flags = SW_CTX_FLAGS_CERTAIN;
  ctx.trace_flags = 1;
  for (size_t i = 0; i < sizeof(ctx.trace_id); i++) ctx.trace_id[i] = static_cast<uint8_t>(0xa0 + i);
  for (size_t i = 0; i < sizeof(ctx.span_id); i++) ctx.span_id[i] = static_cast<uint8_t>(0x10 + i);
  ctx.parent_id[7] = 9;
  return ctx;
}

class DecoderTest : public ::testing::Test {
 protected:
  Metrics metrics;
  ContextAtExchange seen;
  ConnectionTracker tracker{{}, metrics, seen};
  EventDecoder decoder{tracker, metrics};
  uint64_t pos[2] = {0, 0};
  // A record buffer as the ring hands it over: 8-byte aligned.
  alignas(8) std::array<uint8_t, SW_DATA_HEADER_SIZE + 256 + sizeof(sw_request_context)> record{};

  void SetUp() override {
    sw_open_event open{};
    open.hdr.type = SW_EV_OPEN;
    open.hdr.conn = {kTgid, kFd, kStart};
    open.role = SW_ROLE_SERVER;
    open.protocol = SW_PROTO_HTTP1;
    open.family = 2;
    decoder.handle(&open, sizeof(open), 0);
  }

  // The data event of `bytes` in direction dir, with ctx behind the payload
  // when given; `cut` bytes are taken off the record's end.
  void data(uint8_t dir, std::string_view bytes, const sw_request_context* ctx = nullptr, size_t cut = 0) {
    record.fill(0);
    auto* ev = reinterpret_cast<sw_data_event*>(record.data());
    ev->hdr.type = SW_EV_DATA;
    ev->hdr.conn = {kTgid, kFd, kStart};
    ev->hdr.ts_ns = 2'000 + pos[0] + pos[1];
    ev->ts_start_ns = ev->hdr.ts_ns - 1;
    ev->pos = pos[dir];
    ev->peer_pos = pos[dir ^ 1];
    ev->len = ev->copied = static_cast<uint32_t>(bytes.size());
    ev->direction = dir;
    std::memcpy(ev->data, bytes.data(), bytes.size());
    size_t size = SW_DATA_HEADER_SIZE + bytes.size();
    if (ctx != nullptr) {
      const size_t at = SW_CONTEXT_TRAILER_OFFSET(bytes.size());
      std::memcpy(ev->data + at, ctx, sizeof(*ctx));
      ev->flags |= SW_DATA_CONTEXT;
      size = SW_DATA_HEADER_SIZE + at + sizeof(*ctx);
    }
    pos[dir] += bytes.size();
    decoder.handle(record.data(), size - cut, 3'000);
  }
};

constexpr std::string_view kRequest = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";  // 27 bytes: the trailer is padded to 32
constexpr std::string_view kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

TEST_F(DecoderTest, ContextBehindThePayloadIsNotedForItsRequest) {
  const sw_request_context ctx = server_context(0);
  data(SW_DIR_INGRESS, kRequest, &ctx);
  data(SW_DIR_EGRESS, kResponse);
  ASSERT_EQ(seen.seen.size(), 1u);
  ASSERT_TRUE(seen.seen[0].has_value());
  const DecidedContext& d = *seen.seen[0];
  EXPECT_EQ(0, std::memcmp(d.trace_id.data(), ctx.trace_id, 16));
  EXPECT_EQ(0, std::memcmp(d.span_id.data(), ctx.span_id, 8));
  EXPECT_EQ(0, std::memcmp(d.parent_id.data(), ctx.parent_id, 8));
  EXPECT_EQ(d.source, SW_CTX_HEADER);
  EXPECT_EQ(d.flags, SW_CTX_FLAGS_CERTAIN);
  EXPECT_EQ(metrics.events_malformed.load(), 0u);
}

TEST_F(DecoderTest, ContextEventOfItsOwnIsNotedToo) {
  sw_context_event ev{};
  ev.hdr.type = SW_EV_CONTEXT;
  ev.hdr.conn = {kTgid, kFd, kStart};
  ev.ctx = server_context(0);
  data(SW_DIR_INGRESS, kRequest);
  decoder.handle(&ev, sizeof(ev), 3'000);
  data(SW_DIR_EGRESS, kResponse);
  ASSERT_EQ(seen.seen.size(), 1u);
  ASSERT_TRUE(seen.seen[0].has_value());
  EXPECT_EQ(0, std::memcmp(seen.seen[0]->span_id.data(), ev.ctx.span_id, 8));
}

TEST_F(DecoderTest, RecordTooShortForItsTrailerIsCountedAndNotRead) {
  const sw_request_context ctx = server_context(0);
  data(SW_DIR_INGRESS, kRequest, &ctx, 8);
  EXPECT_EQ(metrics.events_malformed.load(), 1u);
  // Nothing of the malformed record reached the stream: the same bytes,
  // now without a context, make the exchange from position 0.
  pos[SW_DIR_INGRESS] = 0;
  data(SW_DIR_INGRESS, kRequest);
  data(SW_DIR_EGRESS, kResponse);
  ASSERT_EQ(seen.seen.size(), 1u);
  EXPECT_FALSE(seen.seen[0].has_value());  // the context went with the malformed record
}

TEST_F(DecoderTest, EventWithoutTheFlagHasNoContext) {
  data(SW_DIR_INGRESS, kRequest);
  data(SW_DIR_EGRESS, kResponse);
  ASSERT_EQ(seen.seen.size(), 1u);
  EXPECT_FALSE(seen.seen[0].has_value());
  EXPECT_EQ(metrics.events_malformed.load(), 0u);
}

}  // namespace
}  // namespace spanwire
