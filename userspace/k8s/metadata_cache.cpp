#include "k8s/metadata_cache.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace spanwire::k8s {
namespace {

using nlohmann::json;
using Pod = MetadataCache::Pod;
using Container = MetadataCache::Container;
using OwnerRef = MetadataCache::OwnerRef;
using Service = MetadataCache::Service;

// An object that lacks a field every object of its kind has. Caught in apply().
struct MalformedObject : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The member `key` of `j`, or null when absent; a null `j` (an absent parent)
// has only null members. Anything else that is not an object is malformed.
const json& member(const json& j, const char* key) {
  static const json kNull;
  if (j.is_null()) return kNull;
  if (!j.is_object()) throw MalformedObject(std::string("not an object where '") + key + "' was expected");
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// Wrong types throw nlohmann::json::type_error, which apply() counts like a missing field.
std::string optional_string(const json& j, const char* key) {
  const json& value = member(j, key);
  return value.is_null() ? std::string() : value.get<std::string>();
}

std::string required_string(const json& j, const char* key) {
  std::string value = optional_string(j, key);
  if (value.empty()) throw MalformedObject(std::string("missing '") + key + "'");
  return value;
}

bool optional_bool(const json& j, const char* key) {
  const json& value = member(j, key);
  return !value.is_null() && value.get<bool>();
}

const json& optional_array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& value = member(j, key);
  if (value.is_null()) return kEmpty;
  if (!value.is_array()) throw MalformedObject(std::string("'") + key + "' is not a list");
  return value;
}

std::string uid_of(const json& object) { return required_string(member(object, "metadata"), "uid"); }

void add_unique(std::vector<std::string>& list, std::string value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

// The ownerReference with controller: true; at most one exists.
std::optional<OwnerRef> controller_of(const json& metadata) {
  for (const json& ref : optional_array(metadata, "ownerReferences")) {
    if (optional_bool(ref, "controller"))
      return OwnerRef{required_string(ref, "kind"), required_string(ref, "name"), optional_string(ref, "uid")};
  }
  return std::nullopt;
}

// containerID is "<runtime>://<id>" ("containerd://", "cri-o://", "docker://").
std::string strip_runtime_prefix(const std::string& container_id) {
  const auto separator = container_id.find("://");
  return separator == std::string::npos ? container_id : container_id.substr(separator + 3);
}

// Only literal values: a valueFrom (ConfigMap, Secret, field ref) is not in the
// Pod object. When a name repeats, the kubelet lets the last entry win.
std::string otel_service_name_env(const json& container_spec) {
  std::string value;
  for (const json& env : optional_array(container_spec, "env")) {
    if (optional_string(env, "name") == "OTEL_SERVICE_NAME") value = optional_string(env, "value");
  }
  return value;
}

void read_container_specs(const json& specs, bool init, std::vector<Container>& out) {
  for (const json& spec : specs) {
    Container c;
    c.name = required_string(spec, "name");
    c.otel_service_name = otel_service_name_env(spec);
    c.init = init;
    // Native sidecars are init containers that keep running beside the app.
    c.runs_beside_app = !init || optional_string(spec, "restartPolicy") == "Always";
    out.push_back(std::move(c));
  }
}

void read_container_statuses(const json& statuses, bool init, std::vector<Container>& containers) {
  for (const json& status : statuses) {
    const std::string name = required_string(status, "name");
    const std::string id = strip_runtime_prefix(optional_string(status, "containerID"));
    auto it = std::find_if(containers.begin(), containers.end(),
                           [&](const Container& c) { return c.name == name && c.init == init; });
    if (it == containers.end()) {
      Container c;
      c.name = name;
      c.init = init;
      c.runs_beside_app = !init;
      it = containers.insert(containers.end(), std::move(c));
    }
    it->id = id;
  }
}

Pod parse_pod(const json& object) {
  const json& metadata = member(object, "metadata");
  const json& spec = member(object, "spec");
  const json& status = member(object, "status");
  Pod pod;
  pod.uid = required_string(metadata, "uid");
  pod.name = required_string(metadata, "name");
  pod.namespace_name = optional_string(metadata, "namespace");
  pod.node_name = optional_string(spec, "nodeName");
  const json& labels = member(metadata, "labels");
  if (!labels.is_null()) {
    if (!labels.is_object()) throw MalformedObject("labels are not a map");
    for (const auto& [key, value] : labels.items()) pod.labels.emplace_back(key, value.get<std::string>());
  }
  pod.controller = controller_of(metadata);

  // A host-network pod's IP is the node's, shared by every such pod; a finished
  // pod's IP is free for the next pod. Neither names this pod as a peer.
  const std::string phase = optional_string(status, "phase");
  const bool finished = phase == "Succeeded" || phase == "Failed";
  std::vector<std::string> ips;
  add_unique(ips, optional_string(status, "podIP"));
  for (const json& entry : optional_array(status, "podIPs")) add_unique(ips, optional_string(entry, "ip"));
  if (!optional_bool(spec, "hostNetwork") && !finished) pod.ips = std::move(ips);

  read_container_specs(optional_array(spec, "containers"), false, pod.containers);
  read_container_specs(optional_array(spec, "initContainers"), true, pod.containers);
  read_container_statuses(optional_array(status, "containerStatuses"), false, pod.containers);
  read_container_statuses(optional_array(status, "initContainerStatuses"), true, pod.containers);
  return pod;
}

// A ReplicaSet's Deployment or a Job's CronJob: the name of its controller when
// the controller is of `parent_kind`, else empty.
std::pair<std::string, std::string> parse_owned(const json& object, const char* parent_kind) {
  const json& metadata = member(object, "metadata");
  std::string uid = required_string(metadata, "uid");
  required_string(metadata, "name");
  const auto controller = controller_of(metadata);
  return {std::move(uid), controller && controller->kind == parent_kind ? controller->name : std::string()};
}

std::pair<std::string, Service> parse_service(const json& object) {
  const json& metadata = member(object, "metadata");
  const json& spec = member(object, "spec");
  std::string uid = required_string(metadata, "uid");
  Service service;
  service.name = required_string(metadata, "name");
  std::vector<std::string> ips;
  add_unique(ips, optional_string(spec, "clusterIP"));
  for (const json& ip : optional_array(spec, "clusterIPs")) add_unique(ips, ip.get<std::string>());
  // Headless Services ("None") have no address of their own: peers reach their pods directly.
  for (auto& ip : ips) {
    if (ip != "None") service.cluster_ips.push_back(std::move(ip));
  }
  return {std::move(uid), std::move(service)};
}

const char* parent_kind_of(Kind kind) { return kind == Kind::kReplicaSet ? "Deployment" : "CronJob"; }

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Used while the ReplicaSet is not (yet) cached: the Deployment controller names
// its ReplicaSets "<deployment>-<pod-template-hash>" and copies the hash into
// each pod's pod-template-hash label.
std::string deployment_from_name(const std::string& replicaset, const Pod& pod) {
  for (const auto& [key, hash] : pod.labels) {
    if (key != "pod-template-hash" || hash.empty() || replicaset.size() <= hash.size() + 1) continue;
    const size_t dash = replicaset.size() - hash.size() - 1;
    if (replicaset[dash] == '-' && replicaset.compare(dash + 1, std::string::npos, hash) == 0)
      return replicaset.substr(0, dash);
  }
  return {};
}

// Used while the Job is not (yet) cached: the CronJob controller names its Jobs
// "<cronjob>-<scheduled time in minutes since the epoch>". Eight or more digits
// (every time since 1989) keeps a hand-made Job like "migrate-2" out.
std::string cronjob_from_name(const std::string& job) {
  const auto dash = job.rfind('-');
  if (dash == std::string::npos || dash == 0) return {};
  const std::string_view digits = std::string_view(job).substr(dash + 1);
  if (digits.size() < 8 || !all_digits(digits)) return {};
  return job.substr(0, dash);
}

std::string label(const Pod& pod, std::string_view key) {
  for (const auto& [k, v] : pod.labels) {
    if (k == key) return v;
  }
  return {};
}

}  // namespace

void MetadataCache::apply(Kind kind, EventType type, const nlohmann::json& object) {
  std::lock_guard lock(mutex_);
  try {
    switch (kind) {
      case Kind::kPod: apply_pod(type, object); break;
      case Kind::kReplicaSet:
      case Kind::kJob: apply_owner(kind, type, object); break;
      case Kind::kService: apply_service(type, object); break;
    }
  } catch (const std::exception&) {
    // Objects are parsed whole before anything is stored, so nothing is half-applied.
    ignored_.fetch_add(1, std::memory_order_relaxed);
  }
}

void MetadataCache::apply_pod(EventType type, const nlohmann::json& object) {
  if (type == EventType::kDeleted) {
    erase_pod(uid_of(object));
  } else {
    put_pod(parse_pod(object));
  }
}

void MetadataCache::apply_owner(Kind kind, EventType type, const nlohmann::json& object) {
  auto& owners = kind == Kind::kReplicaSet ? replicaset_deployment_ : job_cronjob_;
  if (type == EventType::kDeleted) {
    if (owners.erase(uid_of(object)) > 0) changed();
    return;
  }
  auto [uid, parent] = parse_owned(object, parent_kind_of(kind));
  const auto [it, inserted] = owners.try_emplace(std::move(uid), parent);
  if (inserted || it->second != parent) {
    it->second = std::move(parent);
    changed();
  }
}

void MetadataCache::apply_service(EventType type, const nlohmann::json& object) {
  if (type == EventType::kDeleted) {
    erase_service(uid_of(object));
  } else {
    auto [uid, service] = parse_service(object);
    put_service(uid, std::move(service));
  }
}

void MetadataCache::put_pod(Pod pod) {
  const auto it = pods_.find(pod.uid);
  if (it != pods_.end() && it->second == pod) return;  // status churn (readiness, conditions) we do not keep
  if (it != pods_.end()) erase_pod(pod.uid);
  for (const auto& c : pod.containers) {
    if (!c.id.empty()) pod_by_container_id_[c.id] = pod.uid;
  }
  for (const auto& ip : pod.ips) pod_by_ip_[ip] = pod.uid;
  std::string uid = pod.uid;
  pods_.emplace(std::move(uid), std::move(pod));
  changed();
}

void MetadataCache::erase_pod(const std::string& uid) {
  const auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  const Pod gone = std::move(it->second);
  pods_.erase(it);
  for (const auto& c : gone.containers) {
    const auto indexed = pod_by_container_id_.find(c.id);
    if (indexed != pod_by_container_id_.end() && indexed->second == uid) pod_by_container_id_.erase(indexed);
  }
  for (const auto& ip : gone.ips) {
    const auto indexed = pod_by_ip_.find(ip);
    if (indexed == pod_by_ip_.end() || indexed->second != uid) continue;
    pod_by_ip_.erase(indexed);
    // Another live pod may hold the same address (a pod whose status still shows it).
    for (const auto& [other_uid, other] : pods_) {
      if (std::find(other.ips.begin(), other.ips.end(), ip) != other.ips.end()) {
        pod_by_ip_[ip] = other_uid;
        break;
      }
    }
  }
  changed();
}

void MetadataCache::put_service(const std::string& uid, Service service) {
  const auto it = services_.find(uid);
  if (it != services_.end() && it->second == service) return;
  if (it != services_.end()) erase_service(uid);
  for (const auto& ip : service.cluster_ips) service_by_ip_[ip] = uid;
  services_.emplace(uid, std::move(service));
  changed();
}

void MetadataCache::erase_service(const std::string& uid) {
  const auto it = services_.find(uid);
  if (it == services_.end()) return;
  for (const auto& ip : it->second.cluster_ips) {
    const auto indexed = service_by_ip_.find(ip);
    if (indexed != service_by_ip_.end() && indexed->second == uid) service_by_ip_.erase(indexed);
  }
  services_.erase(it);
  changed();
}

void MetadataCache::replace_all(Kind kind, const nlohmann::json& items) {
  std::lock_guard lock(mutex_);
  if (!items.is_array()) {
    ignored_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Each item parsed on its own: one malformed object does not lose the rest.
  const auto each_valid = [&](auto&& take) {
    for (const auto& item : items) {
      try {
        take(item);
      } catch (const std::exception&) {
        ignored_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  switch (kind) {
    case Kind::kPod: {
      std::unordered_map<std::string, Pod> pods;
      each_valid([&](const json& item) {
        Pod pod = parse_pod(item);
        std::string uid = pod.uid;
        pods.insert_or_assign(std::move(uid), std::move(pod));
      });
      if (pods == pods_) return;
      pods_.swap(pods);
      pod_by_container_id_.clear();
      pod_by_ip_.clear();
      for (const auto& [uid, pod] : pods_) {
        for (const auto& c : pod.containers) {
          if (!c.id.empty()) pod_by_container_id_[c.id] = uid;
        }
        for (const auto& ip : pod.ips) pod_by_ip_[ip] = uid;
      }
      break;
    }
    case Kind::kReplicaSet:
    case Kind::kJob: {
      std::unordered_map<std::string, std::string> owners;
      each_valid([&](const json& item) {
        auto [uid, parent] = parse_owned(item, parent_kind_of(kind));
        owners.insert_or_assign(std::move(uid), std::move(parent));
      });
      auto& current = kind == Kind::kReplicaSet ? replicaset_deployment_ : job_cronjob_;
      if (owners == current) return;
      current.swap(owners);
      break;
    }
    case Kind::kService: {
      std::unordered_map<std::string, Service> services;
      each_valid([&](const json& item) {
        auto [uid, service] = parse_service(item);
        services.insert_or_assign(std::move(uid), std::move(service));
      });
      if (services == services_) return;
      services_.swap(services);
      service_by_ip_.clear();
      for (const auto& [uid, service] : services_) {
        for (const auto& ip : service.cluster_ips) service_by_ip_[ip] = uid;
      }
      break;
    }
  }
  changed();
}

std::pair<MetadataCache::Attributes, std::string> MetadataCache::owners_of(const Pod& pod) const {
  Attributes attributes;
  if (!pod.controller) return {};
  const OwnerRef& owner = *pod.controller;
  std::string top = owner.name;
  if (owner.kind == "ReplicaSet") {
    const auto known = replicaset_deployment_.find(owner.uid);
    const std::string deployment =
        known != replicaset_deployment_.end() ? known->second : deployment_from_name(owner.name, pod);
    if (!deployment.empty()) {
      attributes.emplace_back("k8s.deployment.name", deployment);
      top = deployment;
    }
    attributes.emplace_back("k8s.replicaset.name", owner.name);
  } else if (owner.kind == "StatefulSet") {
    attributes.emplace_back("k8s.statefulset.name", owner.name);
  } else if (owner.kind == "DaemonSet") {
    attributes.emplace_back("k8s.daemonset.name", owner.name);
  } else if (owner.kind == "Job") {
    const auto known = job_cronjob_.find(owner.uid);
    const std::string cronjob = known != job_cronjob_.end() ? known->second : cronjob_from_name(owner.name);
    if (!cronjob.empty()) {
      attributes.emplace_back("k8s.cronjob.name", cronjob);
      top = cronjob;
    }
    attributes.emplace_back("k8s.job.name", owner.name);
  } else {
    // Other controllers (ReplicationController, operators' own kinds) have no
    // semantic-convention attribute and do not name the service.
    return {};
  }
  return {std::move(attributes), std::move(top)};
}

std::string MetadataCache::service_name_of(const Pod& pod, const Container* container,
                                           const std::string& top_owner) const {
  if (container && !container->otel_service_name.empty()) return container->otel_service_name;
  if (std::string app = label(pod, "app.kubernetes.io/name"); !app.empty()) return app;
  if (!top_owner.empty()) return top_owner;
  // Without a known container (several run in the pod) the pod's name is the best left.
  return container ? container->name : pod.name;
}

Workload MetadataCache::workload_of(const Pod& pod, const Container* container) const {
  Workload workload;
  auto& attributes = workload.attributes;
  if (!pod.namespace_name.empty()) attributes.emplace_back("k8s.namespace.name", pod.namespace_name);
  attributes.emplace_back("k8s.pod.name", pod.name);
  attributes.emplace_back("k8s.pod.uid", pod.uid);
  if (container) attributes.emplace_back("k8s.container.name", container->name);
  if (!pod.node_name.empty()) attributes.emplace_back("k8s.node.name", pod.node_name);
  auto [owners, top_owner] = owners_of(pod);
  for (auto& attribute : owners) attributes.push_back(std::move(attribute));
  if (container && !container->id.empty()) attributes.emplace_back("container.id", container->id);
  workload.service_name = service_name_of(pod, container, top_owner);
  workload.service_namespace = pod.namespace_name;
  workload.labels.assign(pod.labels.begin(), pod.labels.end());
  return workload;
}

std::optional<Workload> MetadataCache::by_container_id(std::string_view id) const {
  std::lock_guard lock(mutex_);
  const auto indexed = pod_by_container_id_.find(std::string(id));
  if (indexed == pod_by_container_id_.end()) return std::nullopt;
  const Pod& pod = pods_.at(indexed->second);
  const auto container = std::find_if(pod.containers.begin(), pod.containers.end(),
                                      [&](const Container& c) { return c.id == id; });
  return workload_of(pod, container == pod.containers.end() ? nullptr : &*container);
}

std::optional<Workload> MetadataCache::by_pod_uid(std::string_view uid, std::string_view container_hint) const {
  std::lock_guard lock(mutex_);
  const auto found = pods_.find(std::string(uid));
  if (found == pods_.end()) return std::nullopt;
  const Pod& pod = found->second;
  const Container* chosen = nullptr;
  if (!container_hint.empty()) {
    for (const auto& c : pod.containers) {
      if (c.name == container_hint || c.id == container_hint) {
        chosen = &c;
        break;
      }
    }
  }
  // An unknown hint (an id the status does not list yet) falls back to the only container.
  if (!chosen) {
    size_t running = 0;
    for (const auto& c : pod.containers) {
      if (c.runs_beside_app && ++running == 1) chosen = &c;
    }
    if (running != 1) chosen = nullptr;
  }
  return workload_of(pod, chosen);
}

std::optional<std::string> MetadataCache::service_name_for_ip(std::string_view ip) const {
  std::lock_guard lock(mutex_);
  const std::string key(ip);
  if (const auto pod_uid = pod_by_ip_.find(key); pod_uid != pod_by_ip_.end()) {
    const Pod& pod = pods_.at(pod_uid->second);
    const auto first = std::find_if(pod.containers.begin(), pod.containers.end(),
                                    [](const Container& c) { return !c.init; });
    return service_name_of(pod, first == pod.containers.end() ? nullptr : &*first, owners_of(pod).second);
  }
  if (const auto service_uid = service_by_ip_.find(key); service_uid != service_by_ip_.end())
    return services_.at(service_uid->second).name;
  return std::nullopt;
}

size_t MetadataCache::pod_count() const {
  std::lock_guard lock(mutex_);
  return pods_.size();
}

size_t MetadataCache::service_count() const {
  std::lock_guard lock(mutex_);
  return services_.size();
}

}  // namespace spanwire::k8s
