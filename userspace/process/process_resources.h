// The OpenTelemetry resource of each traced process, read from /proc once per
// process and shared by all of its spans. Read when a process's first
// connection is seen, while it is alive (short-lived clients like curl are
// often gone by the time their spans are complete).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "process/cgroup_identity.h"
#include "span/span.h"

namespace spanwire {

struct ProcessFacts {
  std::string comm;             // from the kernel event (always known)
  std::string executable_path;  // /proc/PID/exe; empty if the process is gone
  std::string service_name;     // OTEL_SERVICE_NAME from its environment
  std::string service_name_from_resource_attrs;  // service.name in OTEL_RESOURCE_ATTRIBUTES
  std::optional<CgroupIdentity> cgroup;          // container / pod, from /proc/PID/cgroup
};

// What an orchestrator knows of the container a process runs in (Kubernetes:
// k8s/metadata_cache.h): resource attributes and the service name its rules give.
struct WorkloadFacts {
  std::vector<std::pair<std::string, std::string>> attributes;  // k8s.* and container.id
  std::string service_name;
  std::string service_namespace;
  std::vector<std::pair<std::string, std::string>> labels;  // the pod's
};
using WorkloadLookup = std::function<std::optional<WorkloadFacts>(const CgroupIdentity&)>;

// Reads what /proc says about a process; fields stay empty where it cannot.
ProcessFacts read_process_facts(uint32_t pid, std::string_view comm, const std::string& proc_root = "/proc");

// The value of KEY in a NUL-separated environment block, if present.
std::string env_value(std::string_view environ_block, std::string_view key);
// service.name inside an OTEL_RESOURCE_ATTRIBUTES value ("k=v,k2=v2", percent-encoded).
std::string service_name_from_resource_attributes(std::string_view value);

// What the sensor's own configuration adds to every resource: OTEL_SERVICE_NAME
// (the name of processes that declare none themselves) and OTEL_RESOURCE_ATTRIBUTES.
struct ResourceDefaults {
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// Whether a process matches `selection` (config.h: every non-empty criterion must).
bool process_selected(const ProcessSelection& selection, std::string_view executable_name,
                      const std::optional<WorkloadFacts>& workload);

// `defaults` must outlive the resource: attribute keys point into it.
// service.name: the process's own OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES,
// then the workload's (Kubernetes rules), then the sensor's default, then the
// executable's name. Resource::selected says whether `selection` keeps it.
std::shared_ptr<const Resource> make_resource(uint32_t pid, const ProcessFacts& facts, const std::string& host_name,
                                              const ResourceDefaults& defaults,
                                              const std::optional<WorkloadFacts>& workload = std::nullopt,
                                              const ProcessSelection& selection = {});

class ProcessResources {
 public:
  explicit ProcessResources(std::string proc_root = "/proc", ResourceDefaults defaults = {});
  // Workload metadata for processes in containers. Processes whose container
  // the lookup did not know yet are looked up again by refresh().
  void set_workload_lookup(WorkloadLookup lookup) { lookup_ = std::move(lookup); }
  // Marks resources of processes the selection excludes (Resource::selected).
  void set_selection(ProcessSelection selection) { selection_ = std::move(selection); }
  // Call when the workload metadata changed: resources still waiting for it
  // are rebuilt (spans built from then on carry it).
  void refresh();
  // The resource of pid, read from /proc the first time.
  std::shared_ptr<const Resource> get(uint32_t pid, std::string_view comm);
  // The process exited: the next process with this pid is another one.
  void forget(uint32_t pid) {
    cache_.erase(pid);
    pending_.erase(pid);
  }
  size_t size() const { return cache_.size(); }

 private:
  std::string proc_root_;
  std::string host_name_;
  ResourceDefaults defaults_;  // never changed after construction: resources point into it
  WorkloadLookup lookup_;
  ProcessSelection selection_;
  // Processes in a container whose workload was unknown when first seen.
  std::unordered_map<uint32_t, ProcessFacts> pending_;
  std::unordered_map<uint32_t, std::shared_ptr<const Resource>> cache_;
};

}  // namespace spanwire
