// Throughput of the HTTP/2 connection parser on realistic traffic built with nghttp2's
// HPACK deflater: browser-like requests and gRPC calls. Reports bytes/s
// (SetBytesProcessed), frames/s and header blocks/s (counters).
#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>

#include "support/hpack_deflater.h"
#include "support/http2_frames.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http2/connection_parser.h"
#include "http2/frame.h"

namespace {

using namespace spanwire::http2;
using spanwire::testing::Fields;

using Deflater = spanwire::testing::HpackDeflater;

using spanwire::testing::frame;

struct Traffic {
  std::string client, server;
  uint64_t frames = 0, blocks = 0;
};

// `calls` exchanges on one connection; grpc: unary calls with trailers, else browser GETs
// with 8 KiB bodies in 2 DATA frames.
Traffic build(int calls, bool grpc) {
  Deflater cd, sd;
  Traffic t;
  t.client = std::string(kClientPreface) + frame(FrameType::kSettings, 0, 0, "");
  t.server = frame(FrameType::kSettings, 0, 0, "") + frame(FrameType::kSettings, flags::kAck, 0, "");
  t.client += frame(FrameType::kSettings, flags::kAck, 0, "");
  t.frames = 4;
  for (int i = 0; i < calls; ++i) {
    const uint32_t id = 1 + 2 * static_cast<uint32_t>(i);
    if (grpc) {
      t.client += frame(FrameType::kHeaders, flags::kEndHeaders, id,
                        cd.encode({{":method", "POST"}, {":scheme", "http"}, {":path", "/shop.v1.Orders/GetOrder"},
                                   {":authority", "orders.svc:50051"}, {"content-type", "application/grpc"},
                                   {"user-agent", "grpc-go/1.62.1"}, {"te", "trailers"}, {"grpc-timeout", "5S"},
                                   {"x-request-id", "req-" + std::to_string(i)}}));
      std::string msg("\0\0\0\0\x20", 5);
      msg += std::string(32, 'p');
      t.client += frame(FrameType::kData, flags::kEndStream, id, msg);
      t.server += frame(FrameType::kHeaders, flags::kEndHeaders, id,
                        sd.encode({{":status", "200"}, {"content-type", "application/grpc"}}));
      std::string reply("\0\0\0\x01\x00", 5);
      reply += std::string(256, 'r');
      t.server += frame(FrameType::kData, 0, id, reply);
      t.server += frame(FrameType::kHeaders, flags::kEndHeaders | flags::kEndStream, id,
                        sd.encode({{"grpc-status", "0"}, {"grpc-message", ""}}));
      t.frames += 5;
      t.blocks += 3;
    } else {
      t.client += frame(FrameType::kHeaders, flags::kEndHeaders | flags::kEndStream, id,
                        cd.encode({{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"},
                                   {":path", "/products/" + std::to_string(i)},
                                   {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
                                   {"accept", "text/html,application/xhtml+xml"}, {"accept-language", "en-US,en;q=0.5"},
                                   {"accept-encoding", "gzip, deflate, br"}, {"cookie", "session=8f14e45fceea167a5a36"}}));
      t.server += frame(FrameType::kHeaders, flags::kEndHeaders, id,
                        sd.encode({{":status", "200"}, {"content-type", "text/html; charset=utf-8"},
                                   {"content-length", "8192"}, {"cache-control", "private, max-age=0"},
                                   {"etag", "\"v" + std::to_string(i % 17) + "\""}}));
      t.server += frame(FrameType::kData, 0, id, std::string(4096, 'h'));
      t.server += frame(FrameType::kData, flags::kEndStream, id, std::string(4096, 'h'));
      t.frames += 4;
      t.blocks += 2;
    }
  }
  return t;
}

void run(benchmark::State& state, bool grpc) {
  const Traffic t = build(200, grpc);
  const size_t chunk = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    ConnectionParser p;
    for (size_t at = 0; at < t.client.size(); at += chunk) p.feed_client(std::string_view(t.client).substr(at, chunk), at);
    for (size_t at = 0; at < t.server.size(); at += chunk) p.feed_server(std::string_view(t.server).substr(at, chunk), at);
    p.close(0);
    benchmark::DoNotOptimize(p.take_streams());
    if (p.stats().frames != t.frames || p.stats().header_blocks != t.blocks) state.SkipWithError("miscounted");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (t.client.size() + t.server.size())));
  state.counters["frames/s"] = benchmark::Counter(static_cast<double>(state.iterations() * t.frames), benchmark::Counter::kIsRate);
  state.counters["header_blocks/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * t.blocks), benchmark::Counter::kIsRate);
}

void BM_Http2Browser(benchmark::State& state) { run(state, false); }
void BM_Http2GrpcUnary(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Http2Browser)->Arg(1 << 16)->Arg(1460);
BENCHMARK(BM_Http2GrpcUnary)->Arg(1 << 16)->Arg(1460)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
