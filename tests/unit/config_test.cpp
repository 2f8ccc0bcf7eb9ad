// Layering (environment < config file < flags), the YAML file, the flags,
// print_config and validate.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/flags.h"
#include "config/config_layer.h"
#include "loader/preflight.h"

namespace spanwire {
namespace {

using std::chrono::milliseconds;
using Env = std::map<std::string, std::string>;

// A directory for the test's files, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "spanwire-config-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    auto file = path_ / name;
    std::ofstream(file) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

GetEnv env_of(const Env& env) {
  return [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
}

// Parses `args` with the real `spanwire run` flags.
ConfigLayer run_flags(const std::string& args, CommandFlags* command = nullptr) {
  CLI::App app;
  ConfigLayer layer;
  CommandFlags unused;
  add_run_flags(app, layer, command ? *command : unused);
  app.parse(args, false);
  return layer;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ConfigLayers, PropagationAndNetworkNamespacesFromEverySource) {
  TempDir dir;
  EXPECT_EQ(load_config(env_of({}), "", run_flags("")).propagation, "tcp-option") << "on by default";
  Env env{{"SPANWIRE_PROPAGATION", "off"}};
  EXPECT_EQ(load_config(env_of(env), "", run_flags("")).propagation, "off");
  std::string file = dir.write("spanwire.yaml", R"(
capture:
  propagation: tcp-option
  net_namespaces: [/proc/self/ns/net]
)");
  Config c = load_config(env_of(env), file, run_flags(""));
  EXPECT_EQ(c.propagation, "tcp-option") << "the file beats the environment";
  EXPECT_EQ(c.net_namespaces, (std::vector<std::string>{"/proc/self/ns/net"}));
  EXPECT_EQ(load_config(env_of(env), file, run_flags("--propagation off")).propagation, "off");

  EXPECT_THROW(run_flags("--propagation sometimes"), CLI::ValidationError);
  EXPECT_NE(error_of([&] { validate(load_config(env_of({{"SPANWIRE_PROPAGATION", "header"}}), "", run_flags(""))); })
                .find("--propagation must be tcp-option or off"),
            std::string::npos);
  EXPECT_NE(error_of([&] { validate(load_config(env_of({}), "", run_flags("--net-ns /run/netns/no-such-ns"))); })
                .find("--net-ns /run/netns/no-such-ns: No such file"),
            std::string::npos);
}

TEST(ConfigLayers, FileBeatsEnvironmentAndFlagsBeatFile) {
  TempDir dir;
  Env env{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:4318/v1/traces"},
          {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"},
          {"OTEL_SERVICE_NAME", "from-env"},
          {"OTEL_RESOURCE_ATTRIBUTES", "env.only=1,shared=env"}};
  std::string file = dir.write("spanwire.yaml", R"(
service:
  resource_attributes: {shared: file, file.only: "2"}
export:
  endpoint: http://file:4318
  batch:
    max_size: 200
)");

  // A generic endpoint from a higher layer beats a signal-specific one from a lower layer.
  Config c = load_config(env_of(env), file, run_flags(""));
  EXPECT_EQ(c.traces.endpoint, "http://file:4318/v1/traces");
  EXPECT_EQ(c.metrics.endpoint, "http://file:4318/v1/metrics");
  EXPECT_EQ(c.batch_size, 200u);
  EXPECT_EQ(c.service_name, "from-env");
  EXPECT_EQ(c.resource_attributes, (KeyValues{{"env.only", "1"}, {"shared", "file"}, {"file.only", "2"}}));

  Config f = load_config(env_of(env), file,
                         run_flags("--otlp-endpoint http://flag:4317 --batch-size 300 --service-name from-flag "
                                   "--resource-attribute shared=flag"));
  EXPECT_EQ(f.traces.endpoint, "http://flag:4317");
  EXPECT_EQ(f.traces.protocol, OtlpProtocol::kGrpc);
  EXPECT_EQ(f.batch_size, 300u);
  EXPECT_EQ(f.service_name, "from-flag");
  EXPECT_EQ(f.resource_attributes, (KeyValues{{"env.only", "1"}, {"shared", "flag"}, {"file.only", "2"}}));

  // Without a file the environment's signal-specific endpoint stands.
  Config e = load_config(env_of(env), "", run_flags(""));
  EXPECT_EQ(e.traces.endpoint, "http://env:4318/v1/traces");
  EXPECT_EQ(e.metrics.endpoint, "");
  EXPECT_EQ(e.batch_size, 100u);
}

TEST(ConfigLayers, SignalPathFollowsTheFinalProtocol) {
  TempDir dir;
  std::string file = dir.write("c.yaml", "export:\n  endpoint: http://file:9000\n");
  // The protocol flag decides how the file's generic endpoint is used.
  EXPECT_EQ(load_config(env_of({}), file, run_flags("--otlp-protocol grpc")).traces.endpoint, "http://file:9000");
  EXPECT_EQ(load_config(env_of({}), file, run_flags("")).traces.endpoint, "http://file:9000/v1/traces");
  // A protocol from the file applies to the environment's generic endpoint.
  std::string grpc = dir.write("g.yaml", "export:\n  protocol: grpc\n");
  Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:9000"}};
  EXPECT_EQ(load_config(env_of(env), grpc, run_flags("")).metrics.endpoint, "http://env:9000");
  // Within the file, the signal section beats the export section.
  std::string signal = dir.write("s.yaml", R"(
export:
  endpoint: http://all:4318
  timeout_ms: 3000
  traces: {endpoint: "http://t:4318/custom", timeout_ms: 1500}
)");
  Config c = load_config(env_of({}), signal, run_flags(""));
  EXPECT_EQ(c.traces.endpoint, "http://t:4318/custom");
  EXPECT_EQ(c.traces.timeout, milliseconds(1500));
  EXPECT_EQ(c.metrics.endpoint, "http://all:4318/v1/metrics");
  EXPECT_EQ(c.metrics.timeout, milliseconds(3000));
}

TEST(ConfigFile, ReadsEverySection) {
  TempDir dir;
  std::string file = dir.write("full.yaml", R"(
capture: {payload_cap: 4096, ringbuf_size: 8388608, pids: [1, 2], comms: [nginx], ports: [443, 80],
          namespaces: [shop], pod_labels: {tier: backend}, containers: [app], executables: [python3],
          redact_query_params: [session, code]}
stitching: {link_window_ms: 250}
service: {name: shop}
export:
  protocol: grpc
  endpoint: collector:4317
  headers: {Api-Key: secret}
  compression: gzip
  insecure: true
  metrics: {interval_ms: 30000, max_series: 50, enabled: false}
  batch: {max_size: 64, timeout_ms: 200, max_queue_size: 1024, max_queue_bytes: 1048576}
  retry: {initial_interval_ms: 100, max_interval_ms: 2000, max_elapsed_ms: 60000}
  shutdown_timeout_ms: 3000
  json_out: /tmp/spans.json
sampling:
  sampler: parentbased_traceidratio
  ratio: 0.5
  max_traces_per_second: 100
  tail: {keep_errors: false, keep_slower_than_ms: 800, ratio: 0.1, decision_wait_ms: 900}
diagnostics: {metrics_addr: "127.0.0.1:9464", stats_file: /tmp/stats.json, log_level: debug}
kubernetes: {enabled: false, api_url: "https://10.0.0.1:443", token_file: /t, ca_file: /c, node_name: n1}
)");
  Config c = resolve_config({read_config_file(file)});
  EXPECT_EQ(c.selection.namespaces, (std::vector<std::string>{"shop"}));
  EXPECT_EQ(c.selection.pod_labels, (KeyValues{{"tier", "backend"}}));
  EXPECT_EQ(c.selection.containers, (std::vector<std::string>{"app"}));
  EXPECT_EQ(c.selection.executables, (std::vector<std::string>{"python3"}));
  EXPECT_EQ(c.redact_query_params, (std::vector<std::string>{"session", "code"}));
  EXPECT_FALSE(c.kubernetes.enabled);
  EXPECT_EQ(c.kubernetes.api_url, "https://10.0.0.1:443");
  EXPECT_EQ(c.kubernetes.token_file, "/t");
  EXPECT_EQ(c.kubernetes.ca_file, "/c");
  EXPECT_EQ(c.kubernetes.node_name, "n1");
  EXPECT_EQ(c.payload_cap, 4096u);
  EXPECT_EQ(c.ringbuf_bytes, 8388608u);
  EXPECT_EQ(c.pids, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.comms, (std::vector<std::string>{"nginx"}));
  EXPECT_EQ(c.ports, (std::set<uint16_t>{80, 443}));
  EXPECT_EQ(c.link_window_ms, 250u);
  EXPECT_EQ(c.service_name, "shop");
  EXPECT_EQ(c.traces.endpoint, "collector:4317");
  EXPECT_EQ(c.traces.protocol, OtlpProtocol::kGrpc);
  EXPECT_EQ(c.traces.headers, (KeyValues{{"api-key", "secret"}}));
  EXPECT_EQ(c.metrics.compression, Compression::kGzip);
  EXPECT_TRUE(c.metrics.insecure);
  EXPECT_EQ(c.metrics_interval, milliseconds(30000));
  EXPECT_EQ(c.metrics_max_series, 50u);
  EXPECT_FALSE(c.red_metrics_enabled);
  EXPECT_EQ(c.batch_size, 64u);
  EXPECT_EQ(c.batch_timeout, milliseconds(200));
  EXPECT_EQ(c.max_queue_size, 1024u);
  EXPECT_EQ(c.max_queue_bytes, 1048576u);
  EXPECT_EQ(c.retry_initial, milliseconds(100));
  EXPECT_EQ(c.retry_max_interval, milliseconds(2000));
  EXPECT_EQ(c.retry_max_elapsed, milliseconds(60000));
  EXPECT_EQ(c.shutdown_timeout, milliseconds(3000));
  EXPECT_EQ(c.json_out, "/tmp/spans.json");
  EXPECT_EQ(c.sampling.sampler, SamplerKind::kParentBasedTraceIdRatio);
  EXPECT_EQ(c.sampling.ratio, 0.5);
  EXPECT_EQ(c.sampling.max_traces_per_second, 100);
  EXPECT_FALSE(c.sampling.keep_errors);
  EXPECT_EQ(c.sampling.keep_slower_than, milliseconds(800));
  EXPECT_EQ(c.sampling.tail_ratio, 0.1);
  EXPECT_EQ(c.sampling.decision_wait, milliseconds(900));
  EXPECT_EQ(c.metrics_addr, "127.0.0.1:9464");
  EXPECT_EQ(c.stats_file, "/tmp/stats.json");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_NO_THROW(validate(c));
}

TEST(ConfigFile, ErrorsNameFileLineAndKey) {
  TempDir dir;
  struct Case {
    std::string yaml;
    std::vector<std::string> expected;  // parts of the one-line message
  };
  const std::vector<Case> cases = {
      {"export:\n  endpont: http://x\n", {"bad.yaml:2:", "unknown key 'export.endpont'", "endpoint"}},
      {"capture:\n  payload_cap: lots\n", {"bad.yaml:2:", "capture.payload_cap", "whole number", "'lots'"}},
      {"capture:\n  pids: 7\n", {"bad.yaml:2:", "capture.pids", "list"}},
      {"capture:\n  ports: [80, 70000]\n", {"bad.yaml:2:", "capture.ports[1]", "65535"}},
      {"export:\n  traces:\n    protocol: http/json\n", {"bad.yaml:3:", "export.traces.protocol", "not supported"}},
      {"export:\n  headers: [a, b]\n", {"bad.yaml:2:", "export.headers", "map"}},
      {"sampling:\n  ratio: 1.5\n", {"bad.yaml:2:", "sampling.ratio", "from 0 to 1"}},
      {"sampling:\n  tail:\n    keep_errors: maybe\n", {"bad.yaml:3:", "sampling.tail.keep_errors", "true or false"}},
      {"diagnostics: {log_level: loud}\n", {"bad.yaml:1:", "diagnostics.log_level"}},
      {"service: {name: a}\nservice: {name: b}\n", {"bad.yaml:2:", "'service' is given twice"}},
      {"capture: [1\n", {"bad.yaml:", "not valid YAML"}},
      {"- just\n- a list\n", {"bad.yaml:1:", "map of sections"}},
      {"colour: blue\n", {"bad.yaml:1:", "unknown key 'colour'"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    std::string path = dir.write("bad.yaml", c.yaml);
    std::string message = error_of([&] { read_config_file(path); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const auto& part : c.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
  EXPECT_NE(error_of([&] { read_config_file("/nonexistent/spanwire.yaml"); }).find("No such file"), std::string::npos);
}

// The example in docs/CONFIGURATION.md must stay a valid file.
TEST(ConfigFile, DocumentedExampleIsValid) {
  std::ifstream doc(std::filesystem::path(SPANWIRE_TEST_DATA) / ".." / ".." / "docs" / "CONFIGURATION.md");
  ASSERT_TRUE(doc) << "docs/CONFIGURATION.md not found";
  std::stringstream text;
  text << doc.rdbuf();
  std::string md = text.str();
  size_t start = md.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = md.find("```", start);
  ASSERT_NE(end, std::string::npos);
  TempDir dir;
  Config c = resolve_config({read_config_file(dir.write("example.yaml", md.substr(start, end - start)))});
  EXPECT_EQ(c.traces.endpoint, "https://otlp.example.com:4318/v1/traces");
  EXPECT_EQ(c.traces.timeout, milliseconds(5000));
  EXPECT_EQ(c.metrics.timeout, milliseconds(10000));
  EXPECT_EQ(c.sampling.ratio, 0.25);
  EXPECT_NO_THROW(validate(c));
}

TEST(ConfigFile, EmptyFileAndEmptyValuesSetNothing) {
  TempDir dir;
  Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"}};
  EXPECT_EQ(load_config(env_of(env), dir.write("empty.yaml", ""), run_flags("")).traces.endpoint, "http://env:4317");
  EXPECT_EQ(load_config(env_of(env), dir.write("null.yaml", "export:\n  endpoint:\n"), run_flags("")).traces.endpoint,
            "http://env:4317");
  // An explicit empty string turns export off.
  EXPECT_EQ(
      load_config(env_of(env), dir.write("off.yaml", "export:\n  endpoint: \"\"\n"), run_flags("")).traces.endpoint,
      "");
}

TEST(ConfigFlags, OnlyPassedFlagsOverride) {
  ConfigLayer none = run_flags("");
  EXPECT_FALSE(none.batch_size || none.otlp.endpoint || none.tail_keep_errors || none.red_metrics_enabled ||
               none.payload_cap || none.pids || none.otlp.headers || none.otlp.insecure);

  CommandFlags command;
  ConfigLayer f = run_flags(
      "--otlp-header Api-Key=s3cret --otlp-header x-b=1=2 --otlp-insecure --no-tail-keep-errors --no-red-metrics "
      "--pid 5 --pid 6 --port 8080 --max-queue-mib 2 --otlp-timeout-ms 2500 --otlp-compression gzip "
      "--sampler traceidratio --sampler-arg 0.3 --metrics-addr 127.0.0.1:9464 --config x.yaml --print-config",
      &command);
  EXPECT_EQ(f.otlp.headers, (KeyValues{{"api-key", "s3cret"}, {"x-b", "1=2"}}));
  EXPECT_EQ(f.otlp.insecure, true);
  EXPECT_EQ(f.tail_keep_errors, false);
  EXPECT_EQ(f.red_metrics_enabled, false);
  EXPECT_EQ(f.pids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(run_flags("--redact-query-param session --redact-query-param code").redact_query_params,
            (std::vector<std::string>{"session", "code"}));
  EXPECT_EQ(f.ports, (std::set<uint16_t>{8080}));
  EXPECT_EQ(f.max_queue_bytes, size_t{2} << 20);
  EXPECT_EQ(f.otlp.timeout, milliseconds(2500));
  EXPECT_EQ(f.otlp.compression, Compression::kGzip);
  EXPECT_EQ(f.sampler, SamplerKind::kTraceIdRatio);
  EXPECT_EQ(f.sampler_ratio, 0.3);
  EXPECT_EQ(f.metrics_addr, "127.0.0.1:9464");
  EXPECT_EQ(command.config_file, "x.yaml");
  EXPECT_TRUE(command.print_config);
  EXPECT_EQ(run_flags("--tail-keep-errors").tail_keep_errors, true);

  EXPECT_THROW(run_flags("--otlp-protocol http/json"), CLI::ValidationError);
  EXPECT_THROW(run_flags("--otlp-header novalue"), CLI::ValidationError);
  EXPECT_THROW(run_flags("--sampler-arg 2"), CLI::ValidationError);
  EXPECT_THROW(run_flags("--sampler sometimes"), CLI::ValidationError);
  EXPECT_THROW(run_flags("--otlp-timeout-ms -1"), CLI::ValidationError);
  EXPECT_THROW(run_flags("--batch-size -1"), CLI::ValidationError);
}

TEST(ConfigPrint, MasksSecretsAndRoundTrips) {
  TempDir dir;
  Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example:4318"},
          {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=TOPSECRET"},
          {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod"}};
  Config c = load_config(env_of(env), "", run_flags("--pid 7 --port 443 --sampler-arg 0.5 --service-name shop"));
  std::string yaml = print_config(c);
  EXPECT_EQ(yaml.find("TOPSECRET"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("api-key: \"****\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("endpoint: https://otlp.example:4318/v1/traces"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("deployment.environment: prod"), std::string::npos) << yaml;

  // The output is a valid config file that reproduces the same settings.
  Config again = resolve_config({read_config_file(dir.write("printed.yaml", yaml))});
  EXPECT_EQ(again.traces.endpoint, c.traces.endpoint);
  EXPECT_EQ(again.metrics.endpoint, c.metrics.endpoint);
  EXPECT_EQ(again.traces.protocol, c.traces.protocol);
  EXPECT_EQ(again.traces.headers, (KeyValues{{"api-key", "****"}}));
  EXPECT_EQ(again.pids, c.pids);
  EXPECT_EQ(again.ports, c.ports);
  EXPECT_EQ(again.sampling.ratio, 0.5);
  EXPECT_EQ(again.service_name, "shop");
  EXPECT_EQ(again.resource_attributes, c.resource_attributes);
  EXPECT_EQ(again.json_out, c.json_out);
  EXPECT_EQ(again.max_queue_bytes, c.max_queue_bytes);
  EXPECT_EQ(print_config(again).find("TOPSECRET"), std::string::npos);
}

TEST(Config, ValidationExplainsBadValues) {
  TempDir dir;
  Config c;
  EXPECT_NO_THROW(validate(c));
  c.ringbuf_bytes = 1000;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = Config{};
  c.payload_cap = 0;
  EXPECT_THROW(validate(c), std::invalid_argument);

  c = Config{};
  c.traces.protocol = OtlpProtocol::kGrpc;
  c.traces.endpoint = "127.0.0.1:4317";
  EXPECT_NO_THROW(validate(c));
  c.traces.endpoint = "http://h:4317/v1/traces";
  EXPECT_NE(error_of([&] { validate(c); }).find("OTLP/gRPC traces endpoint"), std::string::npos);
  c.traces.protocol = OtlpProtocol::kHttpProtobuf;
  EXPECT_NO_THROW(validate(c));
  c.traces.endpoint = "ftp://x:1";
  EXPECT_NE(error_of([&] { validate(c); }).find("--otlp-protocol grpc"), std::string::npos);
  c.traces.endpoint = "collector:4318";
  EXPECT_THROW(validate(c), std::invalid_argument);

  c = Config{};
  c.sampling.ratio = 1.5;
  EXPECT_NE(error_of([&] { validate(c); }).find("sampling ratio"), std::string::npos);
  c = Config{};
  c.sampling.tail_ratio = -0.1;
  EXPECT_THROW(validate(c), std::invalid_argument);

  c = Config{};
  c.metrics_addr = "9464";
  EXPECT_NE(error_of([&] { validate(c); }).find("--metrics-addr"), std::string::npos);
  c.metrics_addr = "[::1]:9464";
  EXPECT_NO_THROW(validate(c));

  c = Config{};
  c.traces.endpoint = "https://h:4318/v1/traces";
  c.traces.protocol = OtlpProtocol::kHttpProtobuf;
  c.traces.ca_file = (std::filesystem::path(dir.write("ca.pem", "x")).parent_path() / "missing.pem").string();
  EXPECT_NE(error_of([&] { validate(c); }).find("missing.pem"), std::string::npos);
  c.traces.ca_file = dir.write("ca.pem", "pem");
  EXPECT_NO_THROW(validate(c));
  c.traces.client_cert_file = dir.write("client.pem", "pem");
  EXPECT_NE(error_of([&] { validate(c); }).find("--otlp-client-key"), std::string::npos);
  c.traces.client_key_file = dir.write("client.key", "key");
  EXPECT_NO_THROW(validate(c));

  c = Config{};
  c.max_queue_size = 10;
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(Preflight, KernelReleaseAndCapabilities) {
  auto v = parse_kernel_release("6.18.44-fc-v669");
  EXPECT_EQ(v.major, 6);
  EXPECT_EQ(v.minor, 18);
  EXPECT_TRUE(capabilities_allow_bpf(1ULL << 21));                   // CAP_SYS_ADMIN
  EXPECT_TRUE(capabilities_allow_bpf((1ULL << 38) | (1ULL << 39)));  // CAP_PERFMON + CAP_BPF
  EXPECT_FALSE(capabilities_allow_bpf(1ULL << 39));                  // CAP_BPF alone
  EXPECT_FALSE(capabilities_allow_bpf(0));
  // The message names exactly what is missing.
  EXPECT_EQ(missing_required_capabilities(1ULL << 39), "CAP_PERFMON (to attach tracepoints and uprobes)");
  EXPECT_EQ(missing_required_capabilities(1ULL << 38), "CAP_BPF (to load BPF programs and maps)");
  EXPECT_NE(missing_required_capabilities(0).find(" and "), std::string::npos);
  EXPECT_EQ(missing_required_capabilities(1ULL << 21), "");
}

}  // namespace
}  // namespace spanwire
