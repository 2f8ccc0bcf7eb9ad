#include "k8s/metadata_cache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

namespace spanwire::k8s {
namespace {

using nlohmann::json;

// The ids and addresses in tests/data/k8s/*.json.
const std::string kPodUid = "5f0c3b9e-8a1d-4c2e-9b7f-1a2b3c4d5e6f";
const std::string kAppId = "4f9e1b7c2d3a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
const std::string kInitId = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";
const std::string kReplicaSetUid = "a1b2c3d4-0000-4a4a-8b8b-0123456789ab";
const std::string kJobUid = "b7c8d9e0-2222-4c4c-8d8d-112233445566";

json load(const std::string& name) {
  std::ifstream in(std::string(SPANWIRE_TEST_DATA) + "/k8s/" + name);
  return json::parse(in);
}

// A 64-hex container id made from a small number.
std::string hex_id(unsigned n) {
  char tail[9];
  std::snprintf(tail, sizeof tail, "%08x", n);
  return std::string(56, 'c') + tail;
}

// The fixture pod made into another pod of the same Deployment.
json other_pod(unsigned n, const std::string& ip) {
  json pod = load("pod_deployment.json");
  pod["metadata"]["uid"] = "00000000-0000-4000-8000-" + hex_id(n).substr(52);
  pod["metadata"]["name"] = "checkout-7c9d8f6b5d-p" + std::to_string(n);
  pod["status"]["podIP"] = ip;
  pod["status"]["podIPs"] = json::array({json{{"ip", ip}}});
  pod["status"]["containerStatuses"][0]["containerID"] = "containerd://" + hex_id(n);
  pod["status"]["initContainerStatuses"][0]["containerID"] = "containerd://" + hex_id(n + 100000);
  return pod;
}

void set_controller(json& object, const std::string& api_version, const std::string& kind, const std::string& name,
                    const std::string& uid) {
  object["metadata"]["ownerReferences"] = json::array({json{{"apiVersion", api_version},
                                                            {"kind", kind},
                                                            {"name", name},
                                                            {"uid", uid},
                                                            {"controller", true},
                                                            {"blockOwnerDeletion", true}}});
}

std::optional<std::string> attribute(const Workload& workload, std::string_view key) {
  for (const auto& [k, v] : workload.attributes) {
    if (k == key) return v;
  }
  return std::nullopt;
}

TEST(K8sMetadataCache, DeploymentPodCarriesEveryAttribute) {
  MetadataCache cache;
  cache.apply(Kind::kReplicaSet, EventType::kAdded, load("replicaset.json"));
  cache.apply(Kind::kPod, EventType::kAdded, load("pod_deployment.json"));
  const auto workload = cache.by_container_id(kAppId);
  ASSERT_TRUE(workload.has_value());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"k8s.namespace.name", "shop"},
      {"k8s.pod.name", "checkout-7c9d8f6b5d-x2k4q"},
      {"k8s.pod.uid", kPodUid},
      {"k8s.container.name", "checkout"},
      {"k8s.node.name", "worker-2"},
      {"k8s.deployment.name", "checkout"},
      {"k8s.replicaset.name", "checkout-7c9d8f6b5d"},
      {"container.id", kAppId},
  };
  EXPECT_EQ(workload->attributes, expected);
  EXPECT_EQ(workload->service_name, "checkout");
  EXPECT_EQ(workload->service_namespace, "shop");
  EXPECT_EQ(cache.ignored(), 0u);
}

TEST(K8sMetadataCache, DeploymentFromReplicaSetObjectOrNamingRule) {
  json pod = load("pod_deployment.json");
  {
    MetadataCache cache;  // ReplicaSet not watched yet: the pod-template-hash naming rule
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    EXPECT_EQ(attribute(*cache.by_container_id(kAppId), "k8s.deployment.name"), "checkout");
  }
  {
    MetadataCache cache;  // the cached ReplicaSet wins over the naming rule
    json replicaset = load("replicaset.json");
    replicaset["metadata"]["ownerReferences"][0]["name"] = "checkout-v2";
    cache.apply(Kind::kReplicaSet, EventType::kAdded, replicaset);
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    EXPECT_EQ(attribute(*cache.by_container_id(kAppId), "k8s.deployment.name"), "checkout-v2");
    EXPECT_EQ(cache.by_container_id(kAppId)->service_name, "checkout-v2");
  }
  {
    MetadataCache cache;  // a ReplicaSet of another controller (an Argo Rollout) has no Deployment
    json replicaset = load("replicaset.json");
    set_controller(replicaset, "argoproj.io/v1alpha1", "Rollout", "checkout", "f0f0f0f0-0000-4000-8000-000000000001");
    cache.apply(Kind::kReplicaSet, EventType::kAdded, replicaset);
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    const auto workload = cache.by_container_id(kAppId);
    EXPECT_FALSE(attribute(*workload, "k8s.deployment.name").has_value());
    EXPECT_EQ(attribute(*workload, "k8s.replicaset.name"), "checkout-7c9d8f6b5d");
    EXPECT_EQ(workload->service_name, "checkout-7c9d8f6b5d");
  }
  {
    MetadataCache cache;  // a bare ReplicaSet whose name does not end in the pod's hash
    pod["metadata"]["labels"]["pod-template-hash"] = "55dd66ee77";
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    EXPECT_FALSE(attribute(*cache.by_container_id(kAppId), "k8s.deployment.name").has_value());
  }
}

TEST(K8sMetadataCache, StatefulSetDaemonSetAndJobOwners) {
  struct Case {
    const char* api_version;
    const char* kind;
    const char* name;
    const char* key;
  };
  for (const Case& c : {Case{"apps/v1", "StatefulSet", "ledger", "k8s.statefulset.name"},
                        Case{"apps/v1", "DaemonSet", "node-agent", "k8s.daemonset.name"},
                        Case{"batch/v1", "Job", "migrate-2", "k8s.job.name"}}) {
    MetadataCache cache;
    json pod = load("pod_deployment.json");
    pod["metadata"]["labels"].erase("pod-template-hash");
    set_controller(pod, c.api_version, c.kind, c.name, "99999999-0000-4000-8000-000000000009");
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    const auto workload = cache.by_container_id(kAppId);
    ASSERT_TRUE(workload.has_value()) << c.kind;
    EXPECT_EQ(attribute(*workload, c.key), c.name) << c.kind;
    EXPECT_FALSE(attribute(*workload, "k8s.replicaset.name").has_value()) << c.kind;
    EXPECT_FALSE(attribute(*workload, "k8s.deployment.name").has_value()) << c.kind;
    // "migrate-2" is not a CronJob's Job name (those end in a minute count of 8+ digits).
    EXPECT_FALSE(attribute(*workload, "k8s.cronjob.name").has_value()) << c.kind;
    EXPECT_EQ(workload->service_name, c.name) << c.kind;
  }
}

TEST(K8sMetadataCache, CronJobFromJobObjectOrNamingRule) {
  json pod = load("pod_deployment.json");
  pod["metadata"]["namespace"] = "reports";
  set_controller(pod, "batch/v1", "Job", "nightly-report-29384520", kJobUid);
  {
    MetadataCache cache;  // Job not watched yet: "<cronjob>-<minutes>"
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    const auto workload = cache.by_container_id(kAppId);
    EXPECT_EQ(attribute(*workload, "k8s.cronjob.name"), "nightly-report");
    EXPECT_EQ(attribute(*workload, "k8s.job.name"), "nightly-report-29384520");
    EXPECT_EQ(workload->service_name, "nightly-report");
  }
  {
    MetadataCache cache;
    json job = load("job_from_cronjob.json");
    job["metadata"]["ownerReferences"][0]["name"] = "report-scheduler";
    cache.apply(Kind::kJob, EventType::kAdded, job);
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    EXPECT_EQ(attribute(*cache.by_container_id(kAppId), "k8s.cronjob.name"), "report-scheduler");
    // A cached Job without a CronJob owner: the name is not read as one.
    job["metadata"].erase("ownerReferences");
    cache.apply(Kind::kJob, EventType::kModified, job);
    const auto workload = cache.by_container_id(kAppId);
    EXPECT_FALSE(attribute(*workload, "k8s.cronjob.name").has_value());
    EXPECT_EQ(workload->service_name, "nightly-report-29384520");
  }
}

TEST(K8sMetadataCache, ServiceNameRulesInOrder) {
  MetadataCache cache;
  cache.apply(Kind::kReplicaSet, EventType::kAdded, load("replicaset.json"));
  json pod = load("pod_deployment.json");
  auto& container = pod["spec"]["containers"][0];
  container["name"] = "server";
  pod["status"]["containerStatuses"][0]["name"] = "server";
  pod["metadata"]["labels"]["app.kubernetes.io/name"] = "checkout-web";
  container["env"].push_back(json{{"name", "OTEL_SERVICE_NAME"}, {"value", "checkout-api"}});
  auto service_name_after = [&](const json& changed) {
    cache.apply(Kind::kPod, EventType::kModified, changed);
    return cache.by_container_id(kAppId)->service_name;
  };
  EXPECT_EQ(service_name_after(pod), "checkout-api");  // 1. the container's OTEL_SERVICE_NAME
  // A later entry of the same name wins (as in the kubelet); a valueFrom is no literal.
  container["env"].push_back(
      json{{"name", "OTEL_SERVICE_NAME"},
           {"valueFrom", {{"configMapKeyRef", {{"name", "otel"}, {"key", "service"}}}}}});
  EXPECT_EQ(service_name_after(pod), "checkout-web");
  container["env"].erase(container["env"].size() - 1);
  container["env"].erase(container["env"].size() - 1);
  EXPECT_EQ(service_name_after(pod), "checkout-web");  // 2. app.kubernetes.io/name
  pod["metadata"]["labels"].erase("app.kubernetes.io/name");
  EXPECT_EQ(service_name_after(pod), "checkout");  // 3. the top-most owner (the Deployment)
  pod["metadata"].erase("ownerReferences");
  EXPECT_EQ(service_name_after(pod), "server");  // 4. the container name
  EXPECT_EQ(cache.by_container_id(kAppId)->service_namespace, "shop");
}

TEST(K8sMetadataCache, StripsEveryRuntimePrefix) {
  for (const char* prefix : {"containerd://", "cri-o://", "docker://"}) {
    MetadataCache cache;
    json pod = load("pod_deployment.json");
    pod["status"]["containerStatuses"][0]["containerID"] = prefix + kAppId;
    cache.apply(Kind::kPod, EventType::kAdded, pod);
    const auto workload = cache.by_container_id(kAppId);
    ASSERT_TRUE(workload.has_value()) << prefix;
    EXPECT_EQ(attribute(*workload, "container.id"), kAppId) << prefix;
    EXPECT_FALSE(cache.by_container_id(prefix + kAppId).has_value()) << prefix;
  }
}

TEST(K8sMetadataCache, InitContainersAndNativeSidecars) {
  MetadataCache cache;
  json pod = load("pod_deployment.json");
  cache.apply(Kind::kPod, EventType::kAdded, pod);
  const auto init = cache.by_container_id(kInitId);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(attribute(*init, "k8s.container.name"), "migrate");
  EXPECT_EQ(attribute(*init, "container.id"), kInitId);
  // A finished init container does not make the pod a multi-container pod.
  EXPECT_EQ(attribute(*cache.by_pod_uid(kPodUid), "k8s.container.name"), "checkout");

  // An init container with restartPolicy Always is a sidecar running beside the app.
  pod["spec"]["initContainers"][0]["restartPolicy"] = "Always";
  cache.apply(Kind::kPod, EventType::kModified, pod);
  EXPECT_FALSE(attribute(*cache.by_pod_uid(kPodUid), "k8s.container.name").has_value());
}

TEST(K8sMetadataCache, ByPodUidUsesTheHintOrTheOnlyContainer) {
  MetadataCache cache;
  json pod = load("pod_deployment.json");
  cache.apply(Kind::kPod, EventType::kAdded, pod);
  EXPECT_FALSE(cache.by_pod_uid("00000000-0000-4000-8000-000000000000").has_value());

  const auto only = cache.by_pod_uid(kPodUid);
  ASSERT_TRUE(only.has_value());
  EXPECT_EQ(attribute(*only, "k8s.container.name"), "checkout");
  EXPECT_EQ(attribute(*only, "container.id"), kAppId);
  // An id the status does not list yet: still the only container.
  EXPECT_EQ(attribute(*cache.by_pod_uid(kPodUid, hex_id(7)), "k8s.container.name"), "checkout");

  pod["spec"]["containers"].push_back(json{{"name", "envoy"}, {"image", "envoyproxy/envoy:v1.31"}});
  pod["status"]["containerStatuses"].push_back(
      json{{"name", "envoy"}, {"containerID", "containerd://" + hex_id(8)}, {"ready", true}, {"restartCount", 0}});
  cache.apply(Kind::kPod, EventType::kModified, pod);
  const auto several = cache.by_pod_uid(kPodUid);
  ASSERT_TRUE(several.has_value());
  EXPECT_FALSE(attribute(*several, "k8s.container.name").has_value());
  EXPECT_FALSE(attribute(*several, "container.id").has_value());
  EXPECT_EQ(attribute(*several, "k8s.pod.name"), "checkout-7c9d8f6b5d-x2k4q");
  EXPECT_EQ(several->service_name, "checkout");  // the Deployment, by the naming rule
  EXPECT_EQ(attribute(*cache.by_pod_uid(kPodUid, "envoy"), "container.id"), hex_id(8));
  EXPECT_EQ(attribute(*cache.by_pod_uid(kPodUid, hex_id(8)), "k8s.container.name"), "envoy");
  EXPECT_EQ(cache.by_pod_uid(kPodUid, "envoy")->service_name, "checkout");
}

TEST(K8sMetadataCache, PeersByPodIpAndClusterIp) {
  MetadataCache cache;
  json pod = load("pod_deployment.json");
  pod["spec"]["containers"][0]["env"].push_back(json{{"name", "OTEL_SERVICE_NAME"}, {"value", "checkout-api"}});
  cache.apply(Kind::kPod, EventType::kAdded, pod);
  json service = load("service.json");
  service["metadata"]["name"] = "checkout-frontend";
  cache.apply(Kind::kService, EventType::kAdded, service);

  EXPECT_EQ(cache.service_name_for_ip("10.244.1.17"), "checkout-api");
  EXPECT_EQ(cache.service_name_for_ip("fd00:10:244:1::11"), "checkout-api");
  EXPECT_EQ(cache.service_name_for_ip("10.96.12.34"), "checkout-frontend");
  EXPECT_EQ(cache.service_name_for_ip("fd00:10:96::1234"), "checkout-frontend");
  EXPECT_FALSE(cache.service_name_for_ip("10.244.9.9").has_value());
  EXPECT_FALSE(cache.service_name_for_ip("").has_value());
}

TEST(K8sMetadataCache, HeadlessServicesHostNetworkAndFinishedPodsNameNoPeer) {
  MetadataCache cache;
  json headless = load("service.json");
  headless["spec"]["clusterIP"] = "None";
  headless["spec"]["clusterIPs"] = json::array({"None"});
  cache.apply(Kind::kService, EventType::kAdded, headless);
  EXPECT_EQ(cache.service_count(), 1u);
  EXPECT_FALSE(cache.service_name_for_ip("None").has_value());
  EXPECT_FALSE(cache.service_name_for_ip("10.96.12.34").has_value());

  json host_network = other_pod(1, "172.18.0.3");
  host_network["spec"]["hostNetwork"] = true;
  cache.apply(Kind::kPod, EventType::kAdded, host_network);
  EXPECT_FALSE(cache.service_name_for_ip("172.18.0.3").has_value());
  EXPECT_TRUE(cache.by_container_id(hex_id(1)).has_value());

  json finished = other_pod(2, "10.244.1.40");
  finished["status"]["phase"] = "Succeeded";
  cache.apply(Kind::kPod, EventType::kAdded, finished);
  EXPECT_FALSE(cache.service_name_for_ip("10.244.1.40").has_value());
  EXPECT_TRUE(cache.by_container_id(hex_id(2)).has_value());
}

TEST(K8sMetadataCache, DeletesForgetObjectsAndTheirAddresses) {
  MetadataCache cache;
  const json replicaset = load("replicaset.json");
  const json pod = load("pod_deployment.json");
  const json service = load("service.json");
  cache.apply(Kind::kReplicaSet, EventType::kAdded, replicaset);
  cache.apply(Kind::kPod, EventType::kAdded, pod);
  cache.apply(Kind::kService, EventType::kAdded, service);

  uint64_t before = cache.generation();
  cache.apply(Kind::kPod, EventType::kDeleted, pod);
  EXPECT_GT(cache.generation(), before);
  EXPECT_FALSE(cache.by_container_id(kAppId).has_value());
  EXPECT_FALSE(cache.by_container_id(kInitId).has_value());
  EXPECT_FALSE(cache.by_pod_uid(kPodUid).has_value());
  EXPECT_FALSE(cache.service_name_for_ip("10.244.1.17").has_value());
  EXPECT_EQ(cache.pod_count(), 0u);

  before = cache.generation();
  cache.apply(Kind::kService, EventType::kDeleted, service);
  EXPECT_GT(cache.generation(), before);
  EXPECT_FALSE(cache.service_name_for_ip("10.96.12.34").has_value());
  EXPECT_EQ(cache.service_count(), 0u);

  // A deleted ReplicaSet: its pods fall back to the naming rule.
  json renamed = replicaset;
  renamed["metadata"]["ownerReferences"][0]["name"] = "checkout-v2";
  cache.apply(Kind::kReplicaSet, EventType::kModified, renamed);
  cache.apply(Kind::kPod, EventType::kAdded, pod);
  EXPECT_EQ(attribute(*cache.by_container_id(kAppId), "k8s.deployment.name"), "checkout-v2");
  cache.apply(Kind::kReplicaSet, EventType::kDeleted, renamed);
  EXPECT_EQ(attribute(*cache.by_container_id(kAppId), "k8s.deployment.name"), "checkout");

  // Deleting what is not cached changes nothing.
  before = cache.generation();
  cache.apply(Kind::kService, EventType::kDeleted, service);
  cache.apply(Kind::kJob, EventType::kDeleted, load("job_from_cronjob.json"));
  EXPECT_EQ(cache.generation(), before);
  EXPECT_EQ(cache.ignored(), 0u);
}

TEST(K8sMetadataCache, ModifiedPodsReplaceWhatWasKnown) {
  MetadataCache cache;
  json pod = load("pod_deployment.json");
  cache.apply(Kind::kPod, EventType::kAdded, pod);

  // Status churn the cache does not keep (readiness, conditions) is not a change.
  uint64_t before = cache.generation();
  pod["status"]["containerStatuses"][0]["ready"] = false;
  pod["status"]["conditions"][1]["status"] = "False";
  pod["metadata"]["resourceVersion"] = "48999";
  cache.apply(Kind::kPod, EventType::kModified, pod);
  EXPECT_EQ(cache.generation(), before);

  // The container restarted: a new id; the pod moved to a new address.
  pod["status"]["containerStatuses"][0]["containerID"] = "containerd://" + hex_id(42);
  pod["status"]["containerStatuses"][0]["restartCount"] = 1;
  pod["status"]["podIP"] = "10.244.1.99";
  pod["status"]["podIPs"] = json::array({json{{"ip", "10.244.1.99"}}});
  cache.apply(Kind::kPod, EventType::kModified, pod);
  EXPECT_GT(cache.generation(), before);
  EXPECT_FALSE(cache.by_container_id(kAppId).has_value());
  EXPECT_EQ(attribute(*cache.by_container_id(hex_id(42)), "k8s.container.name"), "checkout");
  EXPECT_FALSE(cache.service_name_for_ip("10.244.1.17").has_value());
  EXPECT_EQ(cache.service_name_for_ip("10.244.1.99"), "checkout");
  EXPECT_EQ(cache.pod_count(), 1u);
}

TEST(K8sMetadataCache, SharedPodAddressGoesToTheNewestThenBackToTheOtherHolder) {
  MetadataCache cache;
  json first = other_pod(1, "10.244.1.50");
  json second = other_pod(2, "10.244.1.50");
  second["spec"]["containers"][0]["env"].push_back(json{{"name", "OTEL_SERVICE_NAME"}, {"value", "second"}});
  cache.apply(Kind::kPod, EventType::kAdded, first);
  cache.apply(Kind::kPod, EventType::kAdded, second);
  EXPECT_EQ(cache.service_name_for_ip("10.244.1.50"), "second");
  cache.apply(Kind::kPod, EventType::kDeleted, second);
  EXPECT_EQ(cache.service_name_for_ip("10.244.1.50"), "checkout");
  cache.apply(Kind::kPod, EventType::kDeleted, first);
  EXPECT_FALSE(cache.service_name_for_ip("10.244.1.50").has_value());
}

TEST(K8sMetadataCache, RelistDropsVanishedObjects) {
  MetadataCache cache;
  cache.apply(Kind::kPod, EventType::kAdded, other_pod(1, "10.244.1.51"));
  cache.apply(Kind::kPod, EventType::kAdded, other_pod(2, "10.244.1.52"));
  cache.apply(Kind::kService, EventType::kAdded, load("service.json"));
  cache.apply(Kind::kReplicaSet, EventType::kAdded, load("replicaset.json"));

  json changed = other_pod(1, "10.244.1.61");
  uint64_t before = cache.generation();
  cache.replace_all(Kind::kPod, json::array({changed, other_pod(3, "10.244.1.53")}));
  EXPECT_GT(cache.generation(), before);
  EXPECT_EQ(cache.pod_count(), 2u);
  EXPECT_FALSE(cache.by_container_id(hex_id(2)).has_value());
  EXPECT_FALSE(cache.service_name_for_ip("10.244.1.52").has_value());
  EXPECT_FALSE(cache.service_name_for_ip("10.244.1.51").has_value());
  EXPECT_TRUE(cache.service_name_for_ip("10.244.1.61").has_value());
  EXPECT_TRUE(cache.by_container_id(hex_id(3)).has_value());

  // The same list again is no change.
  before = cache.generation();
  cache.replace_all(Kind::kPod, json::array({changed, other_pod(3, "10.244.1.53")}));
  EXPECT_EQ(cache.generation(), before);

  json service = load("service.json");
  service["metadata"]["uid"] = "e2e2e2e2-4444-4e4e-8f8f-998877665544";
  service["metadata"]["name"] = "payments";
  service["spec"]["clusterIP"] = "10.96.40.2";
  service["spec"]["clusterIPs"] = json::array({"10.96.40.2"});
  cache.replace_all(Kind::kService, json::array({service}));
  EXPECT_FALSE(cache.service_name_for_ip("10.96.12.34").has_value());
  EXPECT_EQ(cache.service_name_for_ip("10.96.40.2"), "payments");

  // An empty ReplicaSet list: pods fall back to the naming rule.
  json renamed = load("replicaset.json");
  renamed["metadata"]["ownerReferences"][0]["name"] = "checkout-v2";
  cache.replace_all(Kind::kReplicaSet, json::array({renamed}));
  EXPECT_EQ(attribute(*cache.by_container_id(hex_id(3)), "k8s.deployment.name"), "checkout-v2");
  cache.replace_all(Kind::kReplicaSet, json::array());
  EXPECT_EQ(attribute(*cache.by_container_id(hex_id(3)), "k8s.deployment.name"), "checkout");

  cache.replace_all(Kind::kJob, json::array({load("job_from_cronjob.json")}));
  EXPECT_EQ(cache.ignored(), 0u);
}

TEST(K8sMetadataCache, RelistKeepsValidItemsAndCountsTheRest) {
  MetadataCache cache;
  cache.apply(Kind::kPod, EventType::kAdded, other_pod(1, "10.244.1.51"));
  const uint64_t before = cache.generation();
  cache.replace_all(Kind::kPod, json{{"items", json::array()}});  // the List itself, not its items
  EXPECT_EQ(cache.ignored(), 1u);
  EXPECT_EQ(cache.generation(), before);
  EXPECT_EQ(cache.pod_count(), 1u);

  json broken = other_pod(2, "10.244.1.52");
  broken["metadata"].erase("uid");
  cache.replace_all(Kind::kPod, json::array({broken, other_pod(3, "10.244.1.53")}));
  EXPECT_EQ(cache.ignored(), 2u);
  EXPECT_EQ(cache.pod_count(), 1u);
  EXPECT_TRUE(cache.by_container_id(hex_id(3)).has_value());
}

TEST(K8sMetadataCache, MalformedObjectsAreIgnoredAndCounted) {
  MetadataCache cache;
  const json good = load("pod_deployment.json");
  cache.apply(Kind::kPod, EventType::kAdded, good);
  const uint64_t before = cache.generation();

  std::vector<std::pair<Kind, json>> malformed = {
      {Kind::kPod, json()},
      {Kind::kPod, json::array({1, 2})},
      {Kind::kPod, json("Pod")},
      {Kind::kPod, json::object()},
      {Kind::kService, json{{"metadata", {{"name", "x"}}}}},
      {Kind::kReplicaSet, json{{"metadata", {{"uid", 17}, {"name", "x"}}}}},
      {Kind::kJob, json{{"metadata", "job"}}},
  };
  auto with = [&](auto&& change) {
    json pod = good;
    change(pod);
    malformed.emplace_back(Kind::kPod, std::move(pod));
  };
  with([](json& p) { p["metadata"].erase("name"); });
  with([](json& p) { p["metadata"]["uid"] = ""; });
  with([](json& p) { p["metadata"]["labels"] = json::array({"app"}); });
  with([](json& p) { p["metadata"]["labels"]["replicas"] = 3; });
  with([](json& p) { p["metadata"]["ownerReferences"] = "ReplicaSet"; });
  with([](json& p) { p["metadata"]["ownerReferences"][0].erase("name"); });
  with([](json& p) { p["spec"]["containers"] = json::object(); });
  with([](json& p) { p["spec"]["containers"][0].erase("name"); });
  with([](json& p) { p["spec"]["containers"][0]["env"][0] = json{{"name", "OTEL_SERVICE_NAME"}, {"value", 8080}}; });
  with([](json& p) { p["status"]["containerStatuses"][0]["containerID"] = json::array(); });
  with([](json& p) { p["status"]["podIPs"] = json::array({"10.244.1.17"}); });
  with([](json& p) { p["spec"]["hostNetwork"] = "yes"; });
  json service = load("service.json");
  service["spec"]["clusterIPs"] = json::array({10, 96});
  malformed.emplace_back(Kind::kService, service);

  size_t expected = 0;
  for (const auto& [kind, object] : malformed) {
    const EventType type = expected % 2 == 0 ? EventType::kAdded : EventType::kModified;
    EXPECT_NO_THROW(cache.apply(kind, type, object)) << object.dump().substr(0, 200);
    EXPECT_EQ(cache.ignored(), ++expected) << object.dump().substr(0, 200);
  }
  EXPECT_NO_THROW(cache.apply(Kind::kPod, EventType::kDeleted, json{{"metadata", json::object()}}));
  EXPECT_EQ(cache.ignored(), ++expected);

  // What was known before is untouched.
  EXPECT_EQ(cache.generation(), before);
  const auto workload = cache.by_container_id(kAppId);
  ASSERT_TRUE(workload.has_value());
  EXPECT_EQ(attribute(*workload, "k8s.pod.name"), "checkout-7c9d8f6b5d-x2k4q");
  EXPECT_EQ(cache.service_name_for_ip("10.244.1.17"), "checkout");
}

TEST(K8sMetadataCache, GenerationBumpsOnEveryChangeOnly) {
  MetadataCache cache;
  EXPECT_EQ(cache.generation(), 0u);
  uint64_t last = cache.generation();
  auto bumped = [&] {
    const bool moved = cache.generation() > last;
    last = cache.generation();
    return moved;
  };
  json replicaset = load("replicaset.json");
  cache.apply(Kind::kReplicaSet, EventType::kAdded, replicaset);
  EXPECT_TRUE(bumped());
  cache.apply(Kind::kReplicaSet, EventType::kModified, replicaset);  // status-only update
  EXPECT_FALSE(bumped());
  replicaset["metadata"]["ownerReferences"][0]["name"] = "checkout-v2";
  cache.apply(Kind::kReplicaSet, EventType::kModified, replicaset);
  EXPECT_TRUE(bumped());
  cache.apply(Kind::kJob, EventType::kAdded, load("job_from_cronjob.json"));
  EXPECT_TRUE(bumped());
  json service = load("service.json");
  cache.apply(Kind::kService, EventType::kAdded, service);
  EXPECT_TRUE(bumped());
  cache.apply(Kind::kService, EventType::kModified, service);
  EXPECT_FALSE(bumped());
  service["spec"]["clusterIPs"] = json::array({"10.96.12.34"});
  cache.apply(Kind::kService, EventType::kModified, service);
  EXPECT_TRUE(bumped());
  EXPECT_FALSE(cache.service_name_for_ip("fd00:10:96::1234").has_value());
  cache.apply(Kind::kPod, EventType::kAdded, load("pod_deployment.json"));
  EXPECT_TRUE(bumped());
  cache.apply(Kind::kPod, EventType::kAdded, json::object());
  EXPECT_FALSE(bumped());
}

TEST(K8sMetadataCache, WriterAndReaderThreadsShareTheCache) {
  MetadataCache cache;
  constexpr unsigned kPods = 8;
  constexpr int kRounds = 300;
  std::vector<json> pods;
  for (unsigned n = 0; n < kPods; ++n) pods.push_back(other_pod(n, "10.244.2." + std::to_string(n + 1)));
  const json service = load("service.json");

  std::thread writer([&] {
    for (int round = 0; round < kRounds; ++round) {
      const json& pod = pods[round % kPods];
      cache.apply(Kind::kPod, EventType::kAdded, pod);
      cache.apply(Kind::kService, round % 2 ? EventType::kDeleted : EventType::kAdded, service);
      if (round % 3 == 0) cache.apply(Kind::kPod, EventType::kDeleted, pod);
      if (round % 50 == 0) cache.replace_all(Kind::kPod, json::array({pods[0], pods[1]}));
    }
  });
  uint64_t last_generation = 0;
  bool generation_went_back = false;
  for (int round = 0; round < kRounds * 4; ++round) {
    const unsigned n = round % kPods;
    const uint64_t generation = cache.generation();
    generation_went_back |= generation < last_generation;
    last_generation = generation;
    if (const auto workload = cache.by_container_id(hex_id(n))) {
      EXPECT_EQ(attribute(*workload, "k8s.container.name"), "checkout");
    }
    if (const auto workload = cache.by_pod_uid(pods[n]["metadata"]["uid"].get<std::string>())) {
      EXPECT_EQ(attribute(*workload, "k8s.pod.name"), pods[n]["metadata"]["name"]);
    }
    if (const auto name = cache.service_name_for_ip("10.244.2." + std::to_string(n + 1))) {
      EXPECT_EQ(*name, "checkout");
    }
    if (const auto name = cache.service_name_for_ip("10.96.12.34")) {
      EXPECT_EQ(*name, "checkout");
    }
  }
  writer.join();
  EXPECT_FALSE(generation_went_back);
  EXPECT_EQ(cache.ignored(), 0u);
  // The last round (299) re-added pod 299 % 8 = 3 and did not delete it (299 % 3 != 0).
  EXPECT_TRUE(cache.by_container_id(hex_id(3)).has_value());
}

}  // namespace
}  // namespace spanwire::k8s
