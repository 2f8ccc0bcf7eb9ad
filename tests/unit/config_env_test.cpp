// The OTEL_* environment variables, checked against the tables of the
// OpenTelemetry specification (OTLP exporter configuration, SDK environment
// variables).
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "config/config_layer.h"

namespace spanwire {
namespace {

using std::chrono::milliseconds;
using Env = std::map<std::string, std::string>;

Config from_env(const Env& env) {
  return resolve_config({read_environment([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  })});
}

struct EndpointCase {
  Env env;
  std::string traces;
  std::string metrics;
  OtlpProtocol traces_protocol;
  OtlpProtocol metrics_protocol;
};

TEST(ConfigEnv, EndpointPrecedenceAndSignalPaths) {
  const auto kHttp = OtlpProtocol::kHttpProtobuf;
  const auto kGrpc = OtlpProtocol::kGrpc;
  const std::vector<EndpointCase> cases = {
      // Nothing set: no export.
      {{}, "", "", kHttp, kHttp},
      // Generic endpoint, HTTP: the signal path is appended, with or without a trailing slash.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318"}},
       "http://h:4318/v1/traces",
       "http://h:4318/v1/metrics",
       kHttp,
       kHttp},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/"}},
       "http://h:4318/v1/traces",
       "http://h:4318/v1/metrics",
       kHttp,
       kHttp},
      // A generic endpoint with a path keeps it.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/mypath"}},
       "http://h:4318/mypath/v1/traces",
       "http://h:4318/mypath/v1/metrics",
       kHttp,
       kHttp},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://h/mypath/"}},
       "https://h/mypath/v1/traces",
       "https://h/mypath/v1/metrics",
       kHttp,
       kHttp},
      // Signal-specific beats generic and is used as is.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/custom"}},
       "http://b:4318/custom",
       "http://a:4318/v1/metrics",
       kHttp,
       kHttp},
      {{{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4318"}}, "", "http://m:4318", kHttp, kHttp},
      // gRPC (inferred from port 4317): both forms used as is.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"}}, "http://h:4317", "http://h:4317", kGrpc, kGrpc},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"}}, "collector:4317", "collector:4317", kGrpc, kGrpc},
      // Explicit protocol beats inference.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:9000"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}},
       "http://h:9000",
       "http://h:9000",
       kGrpc,
       kGrpc},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}},
       "http://h:4317/v1/traces",
       "http://h:4317/v1/metrics",
       kHttp,
       kHttp},
      // Per-signal protocol beats the generic one.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
        {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"}},
       "http://h:4317",
       "http://h:4317/v1/metrics",
       kGrpc,
       kHttp},
      // No protocol and no well-known port: the specification's default, http/protobuf.
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:9000"}},
       "http://h:9000/v1/traces",
       "http://h:9000/v1/metrics",
       kHttp,
       kHttp},
      // A signal path means HTTP even on port 4317.
      {{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:4317/v1/traces"}},
       "http://h:4317/v1/traces",
       "",
       kHttp,
       kHttp},
      // Empty values count as unset.
      {{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4317"}},
       "http://g:4317",
       "http://g:4317",
       kGrpc,
       kGrpc},
  };
  for (const auto& c : cases) {
    std::string label;
    for (const auto& [k, v] : c.env) label += k + "=" + v + " ";
    SCOPED_TRACE(label);
    Config config = from_env(c.env);
    EXPECT_EQ(config.traces.endpoint, c.traces);
    EXPECT_EQ(config.metrics.endpoint, c.metrics);
    EXPECT_EQ(config.traces.protocol, c.traces_protocol);
    EXPECT_EQ(config.metrics.protocol, c.metrics_protocol);
  }
}

TEST(ConfigEnv, UnsupportedProtocolIsAnErrorNamingTheVariable) {
  try {
    from_env({{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"}});
    FAIL() << "http/json accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("http/json is not supported"), std::string::npos) << e.what();
  }
  EXPECT_THROW(from_env({{"OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"}}), std::invalid_argument);
}

TEST(ConfigEnv, HeadersAreDecodedAndSignalSpecificWins) {
  Config c = from_env({{"OTEL_EXPORTER_OTLP_HEADERS", " API-Key = abc%20def%3D ,x-team=blue,"},
                       {"OTEL_EXPORTER_OTLP_METRICS_HEADERS", "m=1"}});
  KeyValues expected{{"api-key", "abc def="}, {"x-team", "blue"}};
  EXPECT_EQ(c.traces.headers, expected);
  EXPECT_EQ(c.metrics.headers, (KeyValues{{"m", "1"}}));

  // A malformed variable is ignored as a whole (with a warning), not half-used.
  Config bad = from_env({{"OTEL_EXPORTER_OTLP_HEADERS", "a=1,novalue"}});
  EXPECT_TRUE(bad.traces.headers.empty());
  Config bad_escape = from_env({{"OTEL_EXPORTER_OTLP_HEADERS", "a=%zz"}});
  EXPECT_TRUE(bad_escape.traces.headers.empty());
}

TEST(ConfigEnv, TimeoutsFollowTheirPrecedence) {
  EXPECT_EQ(from_env({}).traces.timeout, milliseconds(10000));
  EXPECT_EQ(from_env({}).metrics.timeout, milliseconds(10000));

  Config c = from_env({{"OTEL_EXPORTER_OTLP_TIMEOUT", "5000"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "7000"}});
  EXPECT_EQ(c.traces.timeout, milliseconds(7000));
  EXPECT_EQ(c.metrics.timeout, milliseconds(5000));

  // The batch processor's timeout is only the fallback of the exporter's.
  EXPECT_EQ(from_env({{"OTEL_BSP_EXPORT_TIMEOUT", "3000"}}).traces.timeout, milliseconds(3000));
  EXPECT_EQ(from_env({{"OTEL_BSP_EXPORT_TIMEOUT", "3000"}, {"OTEL_EXPORTER_OTLP_TIMEOUT", "4000"}}).traces.timeout,
            milliseconds(4000));
  EXPECT_EQ(from_env({{"OTEL_METRIC_EXPORT_TIMEOUT", "2000"}}).metrics.timeout, milliseconds(2000));

  // Unparseable numbers are ignored, as the specification asks.
  EXPECT_EQ(from_env({{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s"}}).traces.timeout, milliseconds(10000));
  EXPECT_EQ(from_env({{"OTEL_EXPORTER_OTLP_TIMEOUT", "-5"}}).traces.timeout, milliseconds(10000));
}

TEST(ConfigEnv, InsecureCompressionAndCertificates) {
  Config c = from_env({{"OTEL_EXPORTER_OTLP_INSECURE", "TRUE"},
                       {"OTEL_EXPORTER_OTLP_METRICS_INSECURE", "false"},
                       {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                       {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"},
                       {"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"},
                       {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/etc/client.pem"},
                       {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/etc/client.key"}});
  EXPECT_TRUE(c.traces.insecure);
  EXPECT_FALSE(c.metrics.insecure);
  EXPECT_EQ(c.traces.compression, Compression::kNone);
  EXPECT_EQ(c.metrics.compression, Compression::kGzip);
  EXPECT_EQ(c.traces.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.metrics.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.traces.client_cert_file, "/etc/client.pem");
  EXPECT_EQ(c.traces.client_key_file, "/etc/client.key");
  EXPECT_EQ(c.metrics.client_key_file, "");

  // Only "true" is true; an unknown compression is ignored.
  Config d = from_env({{"OTEL_EXPORTER_OTLP_INSECURE", "yes"}, {"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"}});
  EXPECT_FALSE(d.traces.insecure);
  EXPECT_EQ(d.traces.compression, Compression::kNone);
}

TEST(ConfigEnv, SamplerAndArgument) {
  const std::vector<std::pair<std::string, SamplerKind>> names = {
      {"always_on", SamplerKind::kAlwaysOn},
      {"always_off", SamplerKind::kAlwaysOff},
      {"traceidratio", SamplerKind::kTraceIdRatio},
      {"parentbased_always_on", SamplerKind::kParentBasedAlwaysOn},
      {"parentbased_always_off", SamplerKind::kParentBasedAlwaysOff},
      {"parentbased_traceidratio", SamplerKind::kParentBasedTraceIdRatio},
  };
  for (const auto& [name, kind] : names)
    EXPECT_EQ(from_env({{"OTEL_TRACES_SAMPLER", name}}).sampling.sampler, kind) << name;

  Config c = from_env({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.25"}});
  EXPECT_EQ(c.sampling.ratio, 0.25);

  // Unknown sampler or bad argument: a warning and the defaults.
  Config bad = from_env({{"OTEL_TRACES_SAMPLER", "jaeger_remote"}, {"OTEL_TRACES_SAMPLER_ARG", "2"}});
  EXPECT_EQ(bad.sampling.sampler, SamplerKind::kParentBasedAlwaysOn);
  EXPECT_EQ(bad.sampling.ratio, 1.0);
  EXPECT_EQ(from_env({{"OTEL_TRACES_SAMPLER_ARG", "half"}}).sampling.ratio, 1.0);
  EXPECT_EQ(from_env({{"OTEL_TRACES_SAMPLER_ARG", "-0.1"}}).sampling.ratio, 1.0);
}

TEST(ConfigEnv, ResourceAttributesAndServiceName) {
  Config c =
      from_env({{"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, team=a%2Cb,service.name=from-attrs"}});
  EXPECT_EQ(c.resource_attributes, (KeyValues{{"deployment.environment", "prod"}, {"team", "a,b"}}));
  EXPECT_EQ(c.service_name, "from-attrs");

  Config d = from_env({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"}, {"OTEL_SERVICE_NAME", "checkout"}});
  EXPECT_EQ(d.service_name, "checkout");
  EXPECT_TRUE(d.resource_attributes.empty());

  // Any error discards the whole variable.
  Config bad = from_env({{"OTEL_RESOURCE_ATTRIBUTES", "a=1,broken"}});
  EXPECT_TRUE(bad.resource_attributes.empty());
}

TEST(ConfigEnv, BatchProcessorAndMetricReader) {
  Config c = from_env({{"OTEL_BSP_SCHEDULE_DELAY", "250"},
                       {"OTEL_BSP_MAX_QUEUE_SIZE", "4096"},
                       {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128"},
                       {"OTEL_METRIC_EXPORT_INTERVAL", "15000"},
                       {"OTEL_METRICS_EXPORTER", "none"}});
  EXPECT_EQ(c.batch_timeout, milliseconds(250));
  EXPECT_EQ(c.max_queue_size, 4096u);
  EXPECT_EQ(c.batch_size, 128u);
  EXPECT_EQ(c.metrics_interval, milliseconds(15000));
  EXPECT_FALSE(c.red_metrics_enabled);
  EXPECT_TRUE(from_env({{"OTEL_METRICS_EXPORTER", "otlp"}}).red_metrics_enabled);
  EXPECT_EQ(from_env({{"OTEL_BSP_MAX_QUEUE_SIZE", "lots"}}).max_queue_size, Config{}.max_queue_size);
}

TEST(ConfigEnv, QueryParametersToRedact) {
  EXPECT_TRUE(from_env({}).redact_query_params.empty());
  EXPECT_EQ(from_env({{"SPANWIRE_REDACT_QUERY_PARAMS", "session, code,,state"}}).redact_query_params,
            (std::vector<std::string>{"session", "code", "state"}));
}

TEST(ConfigValues, UrlsAndPaths) {
  auto u = split_url("https://Collector.example:4318/a/b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "Collector.example");
  EXPECT_EQ(u->port, 4318);
  EXPECT_EQ(u->path, "/a/b");
  auto v6 = split_url("[::1]:4317");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 4317);
  EXPECT_FALSE(split_url("http://:4318"));
  EXPECT_FALSE(split_url("http://h:99999"));
  EXPECT_FALSE(split_url("http://h:"));
  EXPECT_FALSE(split_url("http://h :1"));
  EXPECT_FALSE(split_url("http://user:pw@h:1"));

  EXPECT_EQ(append_signal_path("http://h", "/v1/traces"), "http://h/v1/traces");
  EXPECT_EQ(append_signal_path("http://h//", "/v1/traces"), "http://h/v1/traces");
  EXPECT_EQ(percent_decode("a%2fb%41"), "a/bA");
  EXPECT_THROW(percent_decode("50%"), std::invalid_argument);
  EXPECT_THROW(split_key_value("=v"), std::invalid_argument);
  EXPECT_EQ(split_key_value("k= v=w").second, " v=w");
}

}  // namespace
}  // namespace spanwire
