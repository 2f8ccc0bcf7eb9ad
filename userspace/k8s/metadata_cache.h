// What the Kubernetes API says about the pods of this node and the workloads
// and Services around them, reduced to the few fields spans need. The watch
// thread feeds it API objects (as the API server sends them); the pipeline
// thread asks it which pod and workload a container or a peer IP belongs to.
// Only the needed fields are kept: Services and ReplicaSets are watched
// cluster-wide and may number in the thousands.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "k8s/kinds.h"

namespace spanwire::k8s {

// Resource attributes of one process's container, named per the OpenTelemetry
// Kubernetes semantic conventions (k8s.pod.name, k8s.deployment.name, container.id, ...).
struct Workload {
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string service_name;
  std::string service_namespace;
  std::vector<std::pair<std::string, std::string>> labels;  // the pod's, for process selection
};

class MetadataCache {
 public:
  // One watch event. Malformed objects are counted in ignored() and change nothing.
  void apply(Kind kind, EventType type, const nlohmann::json& object);
  // A (re)list: `items` (the List's "items" array) replaces every object of `kind`.
  // A non-array is counted as one ignored object and keeps what is cached.
  void replace_all(Kind kind, const nlohmann::json& items);

  // The workload of the container with this id (64 hex digits, no runtime prefix).
  std::optional<Workload> by_container_id(std::string_view id) const;
  // The workload of a pod when only its UID is known (the container's status
  // may not list its id yet). container_hint: a container name or id; without
  // one the pod's only container is meant, and k8s.container.name is left out
  // when the pod runs several.
  std::optional<Workload> by_pod_uid(std::string_view uid, std::string_view container_hint = {}) const;
  // The service name behind a peer address: a pod IP (the pod's service name)
  // or a Service's cluster IP (the Service's name).
  std::optional<std::string> service_name_for_ip(std::string_view ip) const;

  // Bumps on every change of what is cached; readers refresh derived data when it moves.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  size_t ignored() const { return ignored_.load(std::memory_order_relaxed); }
  size_t pod_count() const;
  size_t service_count() const;

  // Public so the parsing helpers in the .cpp can build them; not part of the interface.
  struct OwnerRef {
    std::string kind;
    std::string name;
    std::string uid;
    bool operator==(const OwnerRef&) const = default;
  };
  struct Container {
    std::string name;
    std::string id;                 // runtime prefix stripped; empty until the status lists it
    std::string otel_service_name;  // literal OTEL_SERVICE_NAME env value
    bool init = false;
    bool runs_beside_app = true;  // regular containers and native sidecars (init, restartPolicy Always)
    bool operator==(const Container&) const = default;
  };
  struct Pod {
    std::string uid, name, namespace_name, node_name;
    std::vector<std::string> ips;  // podIPs (podIP first); empty when they are not the pod's own
    std::vector<std::pair<std::string, std::string>> labels;
    std::optional<OwnerRef> controller;
    std::vector<Container> containers;  // spec order: regular containers, then init containers
    bool operator==(const Pod&) const = default;
  };
  struct Service {
    std::string name;
    std::vector<std::string> cluster_ips;
    bool operator==(const Service&) const = default;
  };

 private:
  using Attributes = std::vector<std::pair<std::string, std::string>>;

  void apply_pod(EventType type, const nlohmann::json& object);
  void apply_owner(Kind kind, EventType type, const nlohmann::json& object);
  void apply_service(EventType type, const nlohmann::json& object);
  void put_pod(Pod pod);
  void erase_pod(const std::string& uid);
  void put_service(const std::string& uid, Service service);
  void erase_service(const std::string& uid);
  void changed() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  // Owner attributes (k8s.replicaset.name, k8s.deployment.name, ...) and the
  // top-most owner's name.
  std::pair<Attributes, std::string> owners_of(const Pod& pod) const;
  Workload workload_of(const Pod& pod, const Container* container) const;
  std::string service_name_of(const Pod& pod, const Container* container, const std::string& top_owner) const;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Pod> pods_;                        // by pod UID
  std::unordered_map<std::string, std::string> pod_by_container_id_;  // container id -> pod UID
  std::unordered_map<std::string, std::string> pod_by_ip_;            // pod IP -> pod UID
  // ReplicaSet UID -> its Deployment's name; Job UID -> its CronJob's name.
  // Empty when the controller is of another kind (the object is still known).
  std::unordered_map<std::string, std::string> replicaset_deployment_;
  std::unordered_map<std::string, std::string> job_cronjob_;
  std::unordered_map<std::string, Service> services_;                 // by Service UID
  std::unordered_map<std::string, std::string> service_by_ip_;        // cluster IP -> Service UID
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> ignored_{0};
};

}  // namespace spanwire::k8s
