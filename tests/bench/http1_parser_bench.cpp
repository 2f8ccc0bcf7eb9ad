// Throughput of the HTTP/1.x parser and exchange matcher on captured-style traffic, side by
// side with Debian's libhttp-parser (nodejs/http-parser 2.9) on the same bytes.
// Reports bytes/s (SetBytesProcessed) and messages/s (SetItemsProcessed).
//
// Corpus: tests/bench/corpus/{requests,responses}.http (see make_corpus.py there): one
// keep-alive conversation, the requests in order and their responses in the same order
// (one response being preceded by an interim 100 Continue). Loaded at start-up and checked:
// both parsers must read it without error into the same messages, or the binary exits 1.
//
// Work per message, each side building the same spanwire::http1::Message and keeping it:
//  * BM_Spanwire_*: Parser::feed() per segment. It buffers the head and, once complete,
//    splits the start line into method/target (or status/reason) strings, copies every
//    field into a std::string name/value pair in a vector (reserved to the field count),
//    reads the framing fields, counts body bytes (no copy), and moves the finished
//    Message into its output vector; take_messages() hands them over. Response parsing
//    also queues each request's method first (expect_response_to), which is how it frames
//    HEAD/CONNECT responses; that costs one small string per request and is timed.
//  * BM_HttpParser_*: http_parser_execute() per segment (HTTP_REQUEST / HTTP_RESPONSE,
//    http_parser_init per iteration). Callbacks append the URL / reason, append each
//    field's name and value to a std::string pair in a vector (reserved to 16 fields at
//    on_message_begin; appends because a field may arrive in pieces across segments),
//    fields after the head go to `trailers`, on_headers_complete fills method (as a
//    string), status, version and the chunked flag, on_body counts bytes (no copy), and
//    on_message_complete counts the message and moves it into an output vector.
// Neither side lower-cases names or decodes anything else. (http_parser keeps trailing
// whitespace in field values where ours trims it; the corpus has none, so the start-up
// check can demand identical messages.)
// Arg = segment size in bytes, as socket reads would deliver the stream; 0 = the whole
// stream in one call.
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "http1/exchange_matcher.h"
#include "http1/parser.h"

#ifndef SPANWIRE_BENCH_CORPUS
#error "SPANWIRE_BENCH_CORPUS must name the corpus directory (tests/bench/CMakeLists.txt sets it)"
#endif

namespace {

using namespace spanwire::http1;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "bench_http1: %s\n", why.c_str());
  std::exit(1);
}

std::string read_corpus_file(const char* name) {
  const std::string path = std::string(SPANWIRE_BENCH_CORPUS) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot open corpus file " + path);
  std::ostringstream data;
  data << in.rdbuf();
  if (data.str().empty()) die("corpus file is empty: " + path);
  return data.str();
}

// ---- spanwire ----

// Feeds `stream` in segments of `segment` bytes (0: all at once).
void feed_segments(Parser& parser, std::string_view stream, size_t segment) {
  if (segment == 0) segment = stream.size();
  for (size_t at = 0; at < stream.size(); at += segment) parser.feed(stream.substr(at, segment), at);
}

std::vector<Message> spanwire_parse(Kind kind, std::string_view stream, size_t segment,
                                    const std::vector<std::string>& methods, ParserStats* stats = nullptr) {
  Parser parser(kind);
  for (const std::string& method : methods) parser.expect_response_to(method);
  feed_segments(parser, stream, segment);
  if (stats) *stats = parser.stats();
  return parser.take_messages();
}

// ---- http_parser ----

struct HpCollector {
  Kind kind = Kind::kRequest;
  Message current;
  bool in_value = false;     // the last header callback was on_header_value
  bool after_head = false;   // fields now are trailer fields
  int64_t messages = 0;
  std::vector<Message> done;
};

HpCollector& collector(http_parser* p) { return *static_cast<HpCollector*>(p->data); }

std::vector<Header>& fields(HpCollector& c) {
  return c.after_head ? c.current.trailers : c.current.headers;
}

int hp_message_begin(http_parser* p) {
  HpCollector& c = collector(p);
  c.current = Message{};
  c.current.kind = c.kind;
  c.current.headers.reserve(16);
  c.in_value = false;
  c.after_head = false;
  return 0;
}

int hp_url(http_parser* p, const char* at, size_t n) {
  collector(p).current.target.append(at, n);
  return 0;
}

int hp_status(http_parser* p, const char* at, size_t n) {
  collector(p).current.reason.append(at, n);
  return 0;
}

int hp_header_field(http_parser* p, const char* at, size_t n) {
  HpCollector& c = collector(p);
  std::vector<Header>& list = fields(c);
  if (list.empty() || c.in_value) list.emplace_back();
  c.in_value = false;
  list.back().name.append(at, n);
  return 0;
}

int hp_header_value(http_parser* p, const char* at, size_t n) {
  HpCollector& c = collector(p);
  fields(c).back().value.append(at, n);
  c.in_value = true;
  return 0;
}

int hp_headers_complete(http_parser* p) {
  HpCollector& c = collector(p);
  Message& m = c.current;
  if (c.kind == Kind::kRequest) {
    m.method = http_method_str(static_cast<http_method>(p->method));
  } else {
    m.status_code = static_cast<int>(p->status_code);
  }
  m.version_minor = p->http_minor;
  m.chunked = (p->flags & F_CHUNKED) != 0;
  c.after_head = true;
  c.in_value = false;
  return 0;
}

int hp_body(http_parser* p, const char*, size_t n) {
  collector(p).current.body_bytes += n;
  return 0;
}

int hp_message_complete(http_parser* p) {
  HpCollector& c = collector(p);
  ++c.messages;
  c.done.push_back(std::move(c.current));
  return 0;
}

const http_parser_settings kHpSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = hp_message_begin;
  s.on_url = hp_url;
  s.on_status = hp_status;
  s.on_header_field = hp_header_field;
  s.on_header_value = hp_header_value;
  s.on_headers_complete = hp_headers_complete;
  s.on_body = hp_body;
  s.on_message_complete = hp_message_complete;
  return s;
}();

// Parses `stream` in segments; false (with `error` set) if http_parser stops early.
bool http_parser_parse(Kind kind, std::string_view stream, size_t segment, HpCollector& c,
                       std::string* error = nullptr) {
  c.kind = kind;
  http_parser p;
  http_parser_init(&p, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE);
  p.data = &c;
  if (segment == 0) segment = stream.size();
  for (size_t at = 0; at < stream.size(); at += segment) {
    std::string_view piece = stream.substr(at, segment);
    size_t used = http_parser_execute(&p, &kHpSettings, piece.data(), piece.size());
    if (used != piece.size() || HTTP_PARSER_ERRNO(&p) != HPE_OK) {
      if (error) {
        *error = std::string(http_errno_name(HTTP_PARSER_ERRNO(&p))) + " at byte " + std::to_string(at + used) +
                 ": " + http_errno_description(HTTP_PARSER_ERRNO(&p));
      }
      return false;
    }
  }
  return true;
}

// ---- corpus ----

struct Corpus {
  std::string requests, responses;
  std::vector<std::string> methods;  // of the requests, in order (for our response parser)
  int64_t request_messages = 0, response_messages = 0;
};

std::string describe(const Message& m) {
  std::string s = m.kind == Kind::kRequest ? m.method + " " + m.target : std::to_string(m.status_code) + " " + m.reason;
  s += " HTTP/1." + std::to_string(m.version_minor) + ", " + std::to_string(m.headers.size()) + " fields, " +
       std::to_string(m.trailers.size()) + " trailers, " + std::to_string(m.body_bytes) + " body bytes" +
       (m.chunked ? " (chunked)" : "");
  for (const Header& h : m.headers) s += "\n    " + h.name + ": [" + h.value + "]";
  for (const Header& h : m.trailers) s += "\n    (trailer) " + h.name + ": [" + h.value + "]";
  return s;
}

bool same_message(const Message& a, const Message& b) {
  return a.kind == b.kind && a.method == b.method && a.target == b.target && a.status_code == b.status_code &&
         a.reason == b.reason && a.version_minor == b.version_minor && a.headers == b.headers &&
         a.trailers == b.trailers && a.body_bytes == b.body_bytes && a.chunked == b.chunked;
}

// Both parsers, whole and in every benchmarked segment size, must agree on every message.
void check(const char* what, Kind kind, std::string_view stream, const std::vector<std::string>& methods,
           std::vector<Message>& reference) {
  for (size_t segment : {size_t{0}, size_t{1460}, size_t{64}, size_t{1}}) {
    ParserStats stats;
    std::vector<Message> ours = spanwire_parse(kind, stream, segment, methods, &stats);
    if (stats.errors || stats.resyncs || stats.skipped_bytes) {
      die(std::string(what) + ": spanwire parser: " + std::to_string(stats.errors) + " errors, " +
          std::to_string(stats.resyncs) + " resyncs, " + std::to_string(stats.skipped_bytes) + " bytes skipped");
    }
    for (const Message& m : ours) {
      if (!m.complete) die(std::string(what) + ": spanwire parser: incomplete message: " + describe(m));
    }
    HpCollector theirs;
    std::string error;
    if (!http_parser_parse(kind, stream, segment, theirs, &error)) {
      die(std::string(what) + ": http_parser: " + error);
    }
    if (ours.size() != theirs.done.size()) {
      die(std::string(what) + ": spanwire parser found " + std::to_string(ours.size()) + " messages, http_parser " +
          std::to_string(theirs.done.size()));
    }
    for (size_t i = 0; i < ours.size(); ++i) {
      if (!same_message(ours[i], theirs.done[i])) {
        die(std::string(what) + ": message " + std::to_string(i) + " differs (segment " + std::to_string(segment) +
            "):\n  spanwire:    " + describe(ours[i]) + "\n  http_parser: " + describe(theirs.done[i]));
      }
    }
    if (segment == 0) reference = std::move(ours);
  }
}

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    out.requests = read_corpus_file("requests.http");
    out.responses = read_corpus_file("responses.http");
    std::vector<Message> requests, responses;
    check("requests.http", Kind::kRequest, out.requests, {}, requests);
    for (const Message& m : requests) out.methods.push_back(m.method);
    check("responses.http", Kind::kResponse, out.responses, out.methods, responses);
    out.request_messages = static_cast<int64_t>(requests.size());
    out.response_messages = static_cast<int64_t>(responses.size());
    return out;
  }();
  return c;
}

// ---- benchmarks ----

void label(benchmark::State& state) {
  if (state.range(0) == 0) state.SetLabel("whole stream");
}

void run_spanwire(benchmark::State& state, Kind kind) {
  const Corpus& c = corpus();
  const std::string& stream = kind == Kind::kRequest ? c.requests : c.responses;
  const int64_t messages = kind == Kind::kRequest ? c.request_messages : c.response_messages;
  const size_t segment = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    Parser parser(kind);
    if (kind == Kind::kResponse) {
      for (const std::string& method : c.methods) parser.expect_response_to(method);
    }
    feed_segments(parser, stream, segment);
    std::vector<Message> out = parser.take_messages();
    benchmark::DoNotOptimize(out.data());
    if (static_cast<int64_t>(out.size()) != messages) state.SkipWithError("miscounted messages");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
  state.SetItemsProcessed(state.iterations() * messages);
  label(state);
}

void run_http_parser(benchmark::State& state, Kind kind) {
  const Corpus& c = corpus();
  const std::string& stream = kind == Kind::kRequest ? c.requests : c.responses;
  const int64_t messages = kind == Kind::kRequest ? c.request_messages : c.response_messages;
  const size_t segment = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    HpCollector collector;
    const bool ok = http_parser_parse(kind, stream, segment, collector);
    std::vector<Message> out = std::move(collector.done);
    benchmark::DoNotOptimize(out.data());
    if (!ok || collector.messages != messages) state.SkipWithError("http_parser failed or miscounted");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
  state.SetItemsProcessed(state.iterations() * messages);
  label(state);
}

void BM_Spanwire_Requests(benchmark::State& state) { run_spanwire(state, Kind::kRequest); }
void BM_Spanwire_Responses(benchmark::State& state) { run_spanwire(state, Kind::kResponse); }
void BM_HttpParser_Requests(benchmark::State& state) { run_http_parser(state, Kind::kRequest); }
void BM_HttpParser_Responses(benchmark::State& state) { run_http_parser(state, Kind::kResponse); }

// Both directions through the matcher, alternating 1460-byte segments; items = exchanges.
void BM_MatchExchanges(benchmark::State& state) {
  const Corpus& c = corpus();
  constexpr size_t kSegment = 1460;
  const int64_t exchanges = c.request_messages;
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
    if (static_cast<int64_t>(out.size()) != exchanges) state.SkipWithError("miscounted exchanges");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.requests.size() + c.responses.size()));
  state.SetItemsProcessed(state.iterations() * exchanges);
}

// Segment sizes: whole stream, one MSS (the comparison asked for), small writes, and the
// worst case of one byte per call.
void segments(benchmark::internal::Benchmark* b) {
  b->ArgName("segment")->Arg(0)->Arg(1460)->Arg(64)->Arg(1);
}
BENCHMARK(BM_Spanwire_Requests)->Apply(segments);
BENCHMARK(BM_HttpParser_Requests)->Apply(segments);
BENCHMARK(BM_Spanwire_Responses)->Apply(segments);
BENCHMARK(BM_HttpParser_Responses)->Apply(segments);
BENCHMARK(BM_MatchExchanges);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const Corpus& c = corpus();  // loads and cross-checks the corpus, exits 1 on any problem
  benchmark::AddCustomContext("corpus", std::string(SPANWIRE_BENCH_CORPUS));
  benchmark::AddCustomContext("corpus_requests", std::to_string(c.request_messages) + " messages, " +
                                                     std::to_string(c.requests.size()) + " bytes");
  benchmark::AddCustomContext("corpus_responses", std::to_string(c.response_messages) + " messages, " +
                                                      std::to_string(c.responses.size()) + " bytes");
  benchmark::AddCustomContext("http_parser", std::to_string(HTTP_PARSER_VERSION_MAJOR) + "." +
                                                 std::to_string(HTTP_PARSER_VERSION_MINOR) + "." +
                                                 std::to_string(HTTP_PARSER_VERSION_PATCH));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
