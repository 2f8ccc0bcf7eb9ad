#include <cstdlib>
#include <ctime>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "export/json_exporter.h"
#include "export/terminal_exporter.h"
#include "export/trace_view.h"
#include "http/semconv.h"

namespace spanwire {
namespace {

// 2023-11-14T22:13:20.123 UTC
constexpr uint64_t kStart = 1'700'000'000'123'456'789;

class ExportersTest : public ::testing::Test {
 protected:
  // Views print local time; pin the zone so the expected strings hold anywhere.
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }

  static std::shared_ptr<const Resource> resource() {
    auto r = std::make_shared<Resource>();
    r->pid = 4242;
    r->comm = "python3";
    r->service_name = "users-api";
    r->attributes = {{"service.name", std::string("users-api")},
                     {"process.pid", int64_t{4242}},
                     {"process.executable.name", std::string("python3")}};
    return r;
  }

  static Span server_span() {
    Span s;
    const uint8_t trace[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                               0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    std::copy(std::begin(trace), std::end(trace), s.trace_id.begin());
    s.span_id = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    s.name = "GET /users/{id}";
    s.kind = SpanKind::kServer;
    s.start_unix_ns = kStart;
    s.end_unix_ns = kStart + 3'210'000;
    s.attributes = {{"http.request.method", std::string("GET")},
                    {"url.path", std::string("/users/42")},
                    {"http.response.status_code", int64_t{200}},
                    {"server.address", std::string("127.0.0.1")},
                    {"server.port", int64_t{8000}},
                    {"network.peer.address", std::string("127.0.0.1")},
                    {"network.peer.port", int64_t{50412}},
                    {"http.request.body.size", int64_t{0}},
                    {"http.response.body.size", int64_t{1234}},
                    {"sampled", true},
                    {"ratio", 0.5}};
    s.semconv = &http::kSemconv;
    s.resource = resource();
    return s;
  }

  // An outgoing call made while serving the request above; it failed.
  static Span client_span() {
    Span s = server_span();
    s.parent_span_id = s.span_id;
    s.span_id = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    s.name = "POST";
    s.kind = SpanKind::kClient;
    s.start_unix_ns = kStart + 1'000'000;
    s.end_unix_ns = kStart + 1'500'000;
    s.status = StatusCode::kError;
    s.status_message = "HTTP 503";
    s.attributes = {{"http.request.method", std::string("POST")},
                    {"url.path", std::string("/orders")},
                    {"http.response.status_code", int64_t{503}},
                    {"server.address", std::string("orders.internal")},
                    {"server.port", int64_t{9000}},
                    {"network.peer.address", std::string("10.0.0.7")},
                    {"network.peer.port", int64_t{9000}},
                    {"http.request.body.size", int64_t{17}}};
    return s;
  }
};

TEST_F(ExportersTest, TerminalPrintsServerSpanOnOneLine) {
  std::ostringstream out;
  TerminalExporter exporter(out);
  exporter.consume(server_span());
  EXPECT_EQ(out.str(),
            "22:13:20.123 SERVER python3[4242] GET /users/{id} -> 200  3.21ms  "
            "127.0.0.1:50412 -> 127.0.0.1:8000  trace=4bf92f35 span=00f067aa\n");
}

TEST_F(ExportersTest, TerminalShowsErrorsAndParentOfClientSpan) {
  EXPECT_EQ(TerminalExporter::format(client_span()),
            "22:13:20.124 CLIENT python3[4242] POST -> 503 ERROR: HTTP 503  0.50ms  "
            "-> orders.internal:9000 (10.0.0.7:9000)  trace=4bf92f35 span=11223344 parent=00f067aa");
}

TEST_F(ExportersTest, TerminalNeutralisesControlCharacters) {
  Span s = server_span();
  s.name = "GET /\x1b[2Jx\r";
  EXPECT_NE(TerminalExporter::format(s).find("GET /\\x1b[2Jx\\x0d -> 200"), std::string::npos);
}

TEST_F(ExportersTest, TerminalFormatsIpv6AndMissingData) {
  Span s = server_span();
  s.attributes = {{"network.peer.address", std::string("::1")}, {"network.peer.port", int64_t{5}}};
  s.resource = nullptr;
  EXPECT_EQ(TerminalExporter::format(s),
            "22:13:20.123 SERVER ? GET /users/{id} -> -  3.21ms  [::1]:5 -> ?  trace=4bf92f35 span=00f067aa");
}

TEST_F(ExportersTest, JsonWritesOneObjectPerLine) {
  std::ostringstream out;
  JsonExporter exporter(out);
  exporter.consume(server_span());
  exporter.consume(client_span());

  std::istringstream lines(out.str());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const auto server = nlohmann::json::parse(line);
  EXPECT_EQ(server["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(server["span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(server["parent_span_id"], "");
  EXPECT_EQ(server["name"], "GET /users/{id}");
  EXPECT_EQ(server["kind"], "SERVER");
  EXPECT_EQ(server["start_time_unix_nano"], kStart);
  EXPECT_EQ(server["end_time_unix_nano"], kStart + 3'210'000);
  EXPECT_EQ(server["duration_ns"], 3'210'000);
  EXPECT_EQ(server["status"], (nlohmann::json{{"code", "UNSET"}, {"message", ""}}));
  EXPECT_EQ(server["attributes"]["http.response.status_code"], 200);
  EXPECT_TRUE(server["attributes"]["http.response.status_code"].is_number_integer());
  EXPECT_EQ(server["attributes"]["url.path"], "/users/42");
  EXPECT_EQ(server["attributes"]["sampled"], true);
  EXPECT_EQ(server["attributes"]["ratio"], 0.5);
  EXPECT_EQ(server["resource"], (nlohmann::json{{"service.name", "users-api"},
                                                {"process.pid", 4242},
                                                {"process.executable.name", "python3"}}));

  ASSERT_TRUE(std::getline(lines, line));
  const auto client = nlohmann::json::parse(line);
  EXPECT_EQ(client["parent_span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(client["kind"], "CLIENT");
  EXPECT_EQ(client["status"], (nlohmann::json{{"code", "ERROR"}, {"message", "HTTP 503"}}));
  EXPECT_FALSE(std::getline(lines, line));
}

TEST_F(ExportersTest, JsonKeepsKeyOrderAndSurvivesInvalidUtf8) {
  Span s = server_span();
  s.name = "GET /\xff";
  s.attributes = {};
  s.resource = nullptr;
  EXPECT_EQ(JsonExporter::to_json(s).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
            R"({"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"",)"
            "\"name\":\"GET /\xef\xbf\xbd\","
            R"("kind":"SERVER","start_time_unix_nano":1700000000123456789,"end_time_unix_nano":1700000000126666789,)"
            R"("duration_ns":3210000,"status":{"code":"UNSET","message":""},"attributes":{},"resource":{}})");
}

TEST_F(ExportersTest, TraceViewTextHasHeaderThenOneLinePerExchange) {
  std::ostringstream out;
  TraceViewExporter view(out, false);
  view.consume(server_span());
  view.consume(client_span());
  EXPECT_EQ(out.str(),
            "TIME             PID COMM            ROLE   METHOD  STATUS LATENCY_MS REQ_BYTES RESP_BYTES PEER                  PATH\n"
            "22:13:20.123    4242 python3         server GET        200       3.21         0      1234 127.0.0.1:50412       /users/42\n"
            "22:13:20.124    4242 python3         client POST       503       0.50        17         - 10.0.0.7:9000         /orders\n");
}

TEST_F(ExportersTest, TraceViewJsonHasOneCompactObjectPerLine) {
  std::ostringstream out;
  TraceViewExporter view(out, true);
  view.consume(server_span());
  view.consume(client_span());
  EXPECT_EQ(out.str(),
            R"({"time":"2023-11-14T22:13:20.123+00:00","pid":4242,"comm":"python3","role":"server","method":"GET",)"
            R"("path":"/users/42","status":200,"latency_ms":3.21,"request_bytes":0,"response_bytes":1234,)"
            R"("peer":"127.0.0.1:50412","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"})"
            "\n"
            R"({"time":"2023-11-14T22:13:20.124+00:00","pid":4242,"comm":"python3","role":"client","method":"POST",)"
            R"("path":"/orders","status":503,"latency_ms":0.5,"request_bytes":17,"response_bytes":null,)"
            R"("peer":"10.0.0.7:9000","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"1122334455667788"})"
            "\n");
}

TEST_F(ExportersTest, TraceViewJsonUsesTheLocalOffset) {
  setenv("TZ", "UTC-02:30", 1);  // POSIX sign: 2 h 30 min east of UTC
  tzset();
  const auto j = nlohmann::json::parse(TraceViewExporter::json_line(server_span()));
  EXPECT_EQ(j["time"], "2023-11-15T00:43:20.123+02:30");
}

}  // namespace
}  // namespace spanwire
