// Throughput of the HTTP/1.x parser and exchange matcher on realistic traffic.
// Reports bytes/s (SetBytesProcessed) and messages/s (SetItemsProcessed).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http1/exchange_matcher.h"
#include "http1/parser.h"

namespace {

using namespace spanwire::http1;

// A browser navigation: 12 header fields.
constexpr std::string_view kBrowserGet =
    "GET /products/42?ref=homepage&utm_source=newsletter HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;"
    "q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; cart=3; consent=analytics%3Dno\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

constexpr std::string_view kJsonBody =
    R"({"customer_id":"c-10293","items":[{"sku":"BK-1984","qty":1,"price":12.5},)"
    R"({"sku":"MG-0042","qty":2,"price":4.25}],"currency":"EUR","coupon":null})";

std::string json_post() {
  return "POST /api/v2/orders HTTP/1.1\r\n"
         "Host: api.example.com\r\n"
         "Content-Type: application/json\r\n"
         "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjLTEwMjkzIn0.c2lnbmF0dXJl\r\n"
         "Accept: application/json\r\n"
         "Content-Length: " + std::to_string(kJsonBody.size()) + "\r\n\r\n" + std::string(kJsonBody);
}

std::string json_created() {
  const std::string body = R"({"order_id":"o-77120","status":"accepted"})";
  return "HTTP/1.1 201 Created\r\n"
         "Content-Type: application/json\r\n"
         "Location: /api/v2/orders/o-77120\r\n"
         "Date: Tue, 05 Mar 2024 10:15:02 GMT\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// An HTML page streamed in 4 KiB chunks, with a trailer.
std::string chunked_page() {
  std::string out =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Cache-Control: private, no-store\r\n"
      "Server: nginx/1.25.3\r\n"
      "Trailer: Server-Timing\r\n\r\n";
  for (int i = 0; i < 8; ++i) out += "1000\r\n" + std::string(4096, 'h') + "\r\n";
  return out + "0\r\nServer-Timing: total;dur=37\r\n\r\n";
}

constexpr std::string_view kNotModified =
    "HTTP/1.1 304 Not Modified\r\n"
    "ETag: \"5e4b-61a7c8f0b3e40\"\r\n"
    "Cache-Control: max-age=86400\r\n"
    "Date: Tue, 05 Mar 2024 10:15:03 GMT\r\n"
    "\r\n";

struct Corpus {
  std::string requests, responses;
  std::vector<std::string> methods;  // of the requests, in order
  int64_t messages_per_direction = 0;
};

// 4 exchanges (GET->chunked page, POST->201, GET->304, POST->201), repeated.
const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    const std::string post = json_post(), created = json_created(), page = chunked_page();
    for (int i = 0; i < 25; ++i) {
      out.requests += std::string(kBrowserGet) + post + std::string(kBrowserGet) + post;
      out.responses += page + created + std::string(kNotModified) + created;
      for (const char* m : {"GET", "POST", "GET", "POST"}) out.methods.emplace_back(m);
      out.messages_per_direction += 4;
    }
    return out;
  }();
  return c;
}

// Feeds `stream` in segments of `segment` bytes, as socket reads would deliver it.
void feed_segments(Parser& parser, std::string_view stream, size_t segment) {
  for (size_t at = 0; at < stream.size(); at += segment) {
    parser.feed(stream.substr(at, segment), at);
  }
}

void BM_ParseRequests(benchmark::State& state) {
  const Corpus& c = corpus();
  const size_t segment = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    Parser parser(Kind::kRequest);
    feed_segments(parser, c.requests, segment);
    std::vector<Message> out = parser.take_messages();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.requests.size()));
  state.SetItemsProcessed(state.iterations() * c.messages_per_direction);
}

void BM_ParseResponses(benchmark::State& state) {
  const Corpus& c = corpus();
  const size_t segment = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    Parser parser(Kind::kResponse);
    for (const std::string& method : c.methods) parser.expect_response_to(method);
    feed_segments(parser, c.responses, segment);
    std::vector<Message> out = parser.take_messages();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.responses.size()));
  state.SetItemsProcessed(state.iterations() * c.messages_per_direction);
}

// Both directions through the matcher, alternating 1460-byte segments; items = exchanges.
void BM_MatchExchanges(benchmark::State& state) {
  const Corpus& c = corpus();
  constexpr size_t kSegment = 1460;
  for (auto _ : state) {
    ExchangeMatcher matcher;
    size_t req = 0, rsp = 0;
    uint64_t ts = 0;
    while (req < c.requests.size() || rsp < c.responses.size()) {
      if (req < c.requests.size()) {
        matcher.feed_request(std::string_view(c.requests).substr(req, kSegment), ++ts);
        req += kSegment;
      }
      if (rsp < c.responses.size()) {
        matcher.feed_response(std::string_view(c.responses).substr(rsp, kSegment), ++ts);
        rsp += kSegment;
      }
    }
    matcher.close(++ts);
    std::vector<Exchange> out = matcher.take_exchanges();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(c.requests.size() + c.responses.size()));
  state.SetItemsProcessed(state.iterations() * c.messages_per_direction);
}

// Segment sizes: worst case (1 byte), small writes, one MSS, whole buffers.
BENCHMARK(BM_ParseRequests)->Arg(1)->Arg(64)->Arg(1460)->Arg(65536);
BENCHMARK(BM_ParseResponses)->Arg(1)->Arg(64)->Arg(1460)->Arg(65536);
BENCHMARK(BM_MatchExchanges);

}  // namespace

BENCHMARK_MAIN();
