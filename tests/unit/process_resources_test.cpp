#include "process/process_resources.h"

#include <gtest/gtest.h>

namespace spanwire {
namespace {

const std::string kProc = std::string(SPANWIRE_TEST_DATA) + "/proc";

std::string attr(const Resource& r, const std::string& key) {
  for (const auto& a : r.attributes)
    if (a.key == key) {
      if (auto* s = std::get_if<std::string>(&a.value)) return *s;
      if (auto* i = std::get_if<int64_t>(&a.value)) return std::to_string(*i);
    }
  return "<absent>";
}

TEST(ProcessResources, EnvironmentParsing) {
  std::string block("A=1\0OTEL_SERVICE_NAME=svc\0B=2", 29);
  EXPECT_EQ(env_value(block, "OTEL_SERVICE_NAME"), "svc");
  EXPECT_EQ(env_value(block, "B"), "2");
  EXPECT_EQ(env_value(block, "OTEL"), "");
  EXPECT_EQ(service_name_from_resource_attributes("a=b, service.name = my%2Capp ,c=d"), "my,app");
  EXPECT_EQ(service_name_from_resource_attributes("a=b"), "");
}

TEST(ProcessResources, OtelServiceNameWins) {
  ProcessResources resources(kProc);
  auto r = resources.get(4242, "gunicorn");
  EXPECT_EQ(r->service_name, "checkout");
  EXPECT_EQ(attr(*r, "service.name"), "checkout");
  EXPECT_EQ(attr(*r, "process.pid"), "4242");
  EXPECT_EQ(attr(*r, "process.executable.path"), "/usr/bin/python3.11");
  EXPECT_EQ(attr(*r, "process.executable.name"), "python3.11");
  EXPECT_EQ(attr(*r, "telemetry.sdk.name"), "spanwire");
  EXPECT_NE(attr(*r, "host.name"), "<absent>");
  EXPECT_EQ(resources.get(4242, "gunicorn"), r);  // cached: one resource per process
}

TEST(ProcessResources, ResourceAttributesThenExecutableName) {
  ProcessResources resources(kProc);
  EXPECT_EQ(resources.get(4343, "nginx")->service_name, "cart api");
  auto gone = resources.get(999999, "curl");  // exited before we looked
  EXPECT_EQ(gone->service_name, "curl");
  EXPECT_EQ(attr(*gone, "process.executable.path"), "<absent>");
  resources.forget(4343);
  EXPECT_EQ(resources.size(), 1u);  // only the exited curl is left
}

TEST(ProcessResources, SensorDefaultsComeAfterTheProcessesOwnChoice) {
  ProcessResources resources(kProc, {"fallback", {{"deployment.environment", "prod"}, {"service.name", "ignored"},
                                                  {"process.pid", "ignored"}}});
  // A process that names itself keeps its name; one that does not gets the default.
  EXPECT_EQ(resources.get(4242, "gunicorn")->service_name, "checkout");
  auto gone = resources.get(999999, "curl");
  EXPECT_EQ(gone->service_name, "fallback");
  EXPECT_EQ(attr(*gone, "service.name"), "fallback");
  // Configured attributes join every resource without replacing its own.
  EXPECT_EQ(attr(*gone, "deployment.environment"), "prod");
  EXPECT_EQ(attr(*gone, "process.pid"), "999999");
}

}  // namespace
}  // namespace spanwire
