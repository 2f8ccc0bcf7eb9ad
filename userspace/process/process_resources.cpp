#include "process/process_resources.h"

#include <algorithm>

#include "util/proc_file.h"
#include "common/text.h"

#include <unistd.h>

#include <filesystem>

namespace spanwire {

namespace {
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string local_host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}
}  // namespace

std::string env_value(std::string_view block, std::string_view key) {
  size_t i = 0;
  while (i < block.size()) {
    size_t end = block.find('\0', i);
    if (end == std::string_view::npos) end = block.size();
    std::string_view entry = block.substr(i, end - i);
    if (entry.size() > key.size() && entry.substr(0, key.size()) == key && entry[key.size()] == '=')
      return std::string(entry.substr(key.size() + 1));
    i = end + 1;
  }
  return {};
}

std::string service_name_from_resource_attributes(std::string_view value) {
  size_t i = 0;
  while (i <= value.size()) {
    size_t end = value.find(',', i);
    if (end == std::string_view::npos) end = value.size();
    std::string_view pair = value.substr(i, end - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq), kAnyWhitespace) == "service.name")
      return percent_decode(trim(pair.substr(eq + 1), kAnyWhitespace));
    i = end + 1;
  }
  return {};
}

ProcessFacts read_process_facts(uint32_t pid, std::string_view comm, const std::string& proc_root) {
  ProcessFacts f;
  f.comm = comm;
  std::string dir = proc_root + "/" + std::to_string(pid);
  std::error_code ec;
  auto exe = std::filesystem::read_symlink(dir + "/exe", ec);
  if (!ec) f.executable_path = exe.string();
  std::string environ_block = read_proc_file(dir + "/environ", 256 * 1024);
  f.service_name = env_value(environ_block, "OTEL_SERVICE_NAME");
  f.service_name_from_resource_attrs =
      service_name_from_resource_attributes(env_value(environ_block, "OTEL_RESOURCE_ATTRIBUTES"));
  f.cgroup = identity_from_proc_cgroup(read_proc_file(dir + "/cgroup", 64 * 1024));
  if (f.comm.empty()) {
    f.comm = read_proc_file(dir + "/comm");
    while (!f.comm.empty() && f.comm.back() == '\n') f.comm.pop_back();
  }
  return f;
}

namespace {
// Attribute keys are string literals (span.h); workload keys come from this
// fixed set of OpenTelemetry k8s/container conventions.
constexpr std::string_view kWorkloadKeys[] = {
    "k8s.namespace.name",  "k8s.pod.name",         "k8s.pod.uid",         "k8s.container.name",
    "k8s.node.name",       "k8s.deployment.name",  "k8s.statefulset.name", "k8s.daemonset.name",
    "k8s.replicaset.name", "k8s.cronjob.name",     "k8s.job.name",        "container.id",
    "service.namespace",
};
std::optional<std::string_view> workload_key(std::string_view key) {
  for (std::string_view k : kWorkloadKeys)
    if (k == key) return k;
  return std::nullopt;
}
}  // namespace

bool process_selected(const ProcessSelection& s, std::string_view executable_name,
                      const std::optional<WorkloadFacts>& workload) {
  auto contains = [](const std::vector<std::string>& list, std::string_view value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  auto attribute = [&](std::string_view key) -> std::string_view {
    if (!workload) return {};
    for (const auto& [k, v] : workload->attributes)
      if (k == key) return v;
    return {};
  };
  if (!s.executables.empty() && !contains(s.executables, executable_name)) return false;
  if (!s.namespaces.empty() && !contains(s.namespaces, attribute("k8s.namespace.name"))) return false;
  if (!s.containers.empty() && !contains(s.containers, attribute("k8s.container.name"))) return false;
  for (const auto& label : s.pod_labels)
    if (!workload || std::find(workload->labels.begin(), workload->labels.end(), label) == workload->labels.end())
      return false;
  return true;
}

std::shared_ptr<const Resource> make_resource(uint32_t pid, const ProcessFacts& f, const std::string& host_name,
                                              const ResourceDefaults& defaults,
                                              const std::optional<WorkloadFacts>& workload,
                                              const ProcessSelection& selection) {
  auto r = std::make_shared<Resource>();
  std::string exe_name = f.executable_path.empty()
                             ? f.comm
                             : std::filesystem::path(f.executable_path).filename().string();
  // The process's own choice wins; then its workload's; then the sensor's
  // configured default; then its executable's name.
  const bool workload_named = workload && !workload->service_name.empty();
  r->service_name = !f.service_name.empty()                      ? f.service_name
                    : !f.service_name_from_resource_attrs.empty() ? f.service_name_from_resource_attrs
                    : workload_named                              ? workload->service_name
                    : !defaults.service_name.empty()              ? defaults.service_name
                                                                   : exe_name;
  r->pid = pid;
  r->comm = f.comm;
  r->selected = process_selected(selection, exe_name, workload);
  r->attributes = {
      {"service.name", r->service_name},
      {"process.pid", static_cast<int64_t>(pid)},
      {"process.executable.name", exe_name},
  };
  if (!f.executable_path.empty()) r->attributes.push_back({"process.executable.path", f.executable_path});
  r->attributes.push_back({"host.name", host_name});
  r->attributes.push_back({"telemetry.sdk.name", std::string("spanwire")});
  r->attributes.push_back({"telemetry.sdk.version", std::string(SPANWIRE_VERSION)});
  if (workload) {
    if (!workload->service_namespace.empty())
      r->attributes.push_back({"service.namespace", workload->service_namespace});
    for (const auto& [key, value] : workload->attributes)
      if (auto k = workload_key(key); k && *k != "service.namespace") r->attributes.push_back({*k, value});
  } else if (f.cgroup && !f.cgroup->container_id.empty()) {
    r->attributes.push_back({"container.id", f.cgroup->container_id});
  }
  for (const auto& [key, value] : defaults.attributes) {
    const bool taken = std::any_of(r->attributes.begin(), r->attributes.end(),
                                   [&](const Attribute& a) { return a.key == key; });
    if (!taken) r->attributes.push_back({key, value});
  }
  return r;
}

ProcessResources::ProcessResources(std::string proc_root, ResourceDefaults defaults)
    : proc_root_(std::move(proc_root)), host_name_(local_host_name()), defaults_(std::move(defaults)) {}

std::shared_ptr<const Resource> ProcessResources::get(uint32_t pid, std::string_view comm) {
  auto it = cache_.find(pid);
  if (it != cache_.end()) return it->second;
  ProcessFacts facts = read_process_facts(pid, comm, proc_root_);
  std::optional<WorkloadFacts> workload;
  if (lookup_ && facts.cgroup) {
    workload = lookup_(*facts.cgroup);
    if (!workload) pending_.emplace(pid, facts);
  }
  return cache_.emplace(pid, make_resource(pid, facts, host_name_, defaults_, workload, selection_)).first->second;
}

void ProcessResources::refresh() {
  if (!lookup_) return;
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto workload = lookup_(*it->second.cgroup);
    if (!workload) {
      ++it;
      continue;
    }
    cache_[it->first] = make_resource(it->first, it->second, host_name_, defaults_, workload, selection_);
    it = pending_.erase(it);
  }
}

}  // namespace spanwire
