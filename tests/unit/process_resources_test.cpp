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

TEST(ProcessResources, WorkloadMetadataForContainersArrivingLater) {
  const std::string id = "4f9e1b7c2d3a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
  bool known = false;
  ProcessResources resources(kProc, {"fallback", {}});
  resources.set_workload_lookup([&](const CgroupIdentity& cg) -> std::optional<WorkloadFacts> {
    if (!known || cg.container_id != id) return std::nullopt;
    return WorkloadFacts{{{"k8s.pod.name", "cart-7f9c-abcde"}, {"k8s.namespace.name", "shop"},
                          {"k8s.deployment.name", "cart"}, {"container.id", id}, {"not.a.known.key", "x"}},
                         "cart",
                         "shop",
                         {}};
  });
  // The pod is not in the cache yet: the container id alone, the default name.
  auto first = resources.get(4444, "cart");
  EXPECT_EQ(first->service_name, "fallback");
  EXPECT_EQ(attr(*first, "container.id"), id);
  EXPECT_EQ(attr(*first, "k8s.pod.name"), "<absent>");
  // The watch delivers the pod: the resource is rebuilt once.
  known = true;
  resources.refresh();
  auto second = resources.get(4444, "cart");
  EXPECT_NE(second, first);
  EXPECT_EQ(second->service_name, "cart");  // the workload's name beats the sensor's default
  EXPECT_EQ(attr(*second, "service.name"), "cart");
  EXPECT_EQ(attr(*second, "service.namespace"), "shop");
  EXPECT_EQ(attr(*second, "k8s.deployment.name"), "cart");
  EXPECT_EQ(attr(*second, "not.a.known.key"), "<absent>");
  resources.refresh();
  EXPECT_EQ(resources.get(4444, "cart"), second);  // nothing pending any more
  // A process's own OTEL_SERVICE_NAME still wins over the workload's.
  EXPECT_EQ(resources.get(4242, "gunicorn")->service_name, "checkout");
}

TEST(ProcessResources, SelectionByNamespaceLabelsContainerAndExecutable) {
  const WorkloadFacts pod{{{"k8s.namespace.name", "shop"}, {"k8s.container.name", "app"}},
                          "cart",
                          "shop",
                          {{"tier", "backend"}, {"app.kubernetes.io/name", "cart"}}};
  ProcessSelection all;
  EXPECT_TRUE(process_selected(all, "python3", std::nullopt));
  ProcessSelection s;
  s.namespaces = {"shop", "billing"};
  EXPECT_TRUE(process_selected(s, "python3", pod));
  EXPECT_FALSE(process_selected(s, "python3", std::nullopt));  // not in a pod
  s.pod_labels = {{"tier", "backend"}};
  EXPECT_TRUE(process_selected(s, "python3", pod));
  s.pod_labels.push_back({"tier", "frontend"});  // every label must be on the pod
  EXPECT_FALSE(process_selected(s, "python3", pod));
  s.pod_labels.pop_back();
  s.containers = {"sidecar"};
  EXPECT_FALSE(process_selected(s, "python3", pod));
  s.containers = {"app"};
  s.executables = {"nginx"};
  EXPECT_FALSE(process_selected(s, "python3", pod));
  s.executables = {"nginx", "python3"};
  EXPECT_TRUE(process_selected(s, "python3", pod));

  // The resource says so; spans of unselected processes are dropped by the assembler.
  ProcessResources resources(kProc);
  ProcessSelection only_nginx;
  only_nginx.executables = {"nginx"};
  resources.set_selection(only_nginx);
  EXPECT_FALSE(resources.get(4242, "gunicorn")->selected);  // /usr/bin/python3.11
}

}  // namespace
}  // namespace spanwire
