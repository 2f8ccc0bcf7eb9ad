#include "config/config.h"

#include <gtest/gtest.h>

#include <map>

#include "loader/preflight.h"

namespace spanwire {
namespace {

std::map<std::string, std::string>* g_env = nullptr;
const char* fake_getenv(const char* name) {
  auto it = g_env->find(name);
  return it == g_env->end() ? nullptr : it->second.c_str();
}

TEST(Config, TracesEndpointBeatsGenericEndpoint) {
  std::map<std::string, std::string> env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"},
                                         {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4317"}};
  g_env = &env;
  Config c;
  apply_environment(c, fake_getenv);
  EXPECT_EQ(c.otlp_endpoint, "http://b:4317");
  env.erase("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  Config d;
  apply_environment(d, fake_getenv);
  EXPECT_EQ(d.otlp_endpoint, "http://a:4317");
  env.clear();
  Config e;
  apply_environment(e, fake_getenv);
  EXPECT_EQ(e.otlp_endpoint, "");
}

TEST(Config, ValidationExplainsBadValues) {
  Config c;
  EXPECT_NO_THROW(validate(c));
  c.ringbuf_bytes = 1000;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = Config{};
  c.payload_cap = 0;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = Config{};
  c.otlp_endpoint = "ftp://x:1";
  EXPECT_THROW(validate(c), std::invalid_argument);
  c.otlp_endpoint = "127.0.0.1:4317";
  EXPECT_NO_THROW(validate(c));
}

TEST(Preflight, KernelReleaseAndCapabilities) {
  auto v = parse_kernel_release("6.18.44-fc-v669");
  EXPECT_EQ(v.major, 6);
  EXPECT_EQ(v.minor, 18);
  EXPECT_TRUE(capabilities_allow_bpf(1ULL << 21));                    // CAP_SYS_ADMIN
  EXPECT_TRUE(capabilities_allow_bpf((1ULL << 38) | (1ULL << 39)));   // CAP_PERFMON + CAP_BPF
  EXPECT_FALSE(capabilities_allow_bpf(1ULL << 39));                   // CAP_BPF alone
  EXPECT_FALSE(capabilities_allow_bpf(0));
}

}  // namespace
}  // namespace spanwire
