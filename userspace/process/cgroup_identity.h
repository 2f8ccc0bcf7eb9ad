// Which container and pod a process runs in, from its /proc/PID/cgroup. The
// container runtimes and the kubelet name cgroups after the container id and
// the pod UID, in a handful of layouts: the systemd driver ("…/kubepods-
// burstable-pod<uid with _>.slice/cri-containerd-<id>.scope") and the cgroupfs
// driver ("/kubepods/burstable/pod<uid>/<id>"), for containerd, CRI-O, Docker
// and Podman, on cgroup v2 (one "0::" line) and v1 (a line per hierarchy).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace spanwire {

struct CgroupIdentity {
  std::string container_id;  // 64 lower-case hex digits; empty: not in a container
  std::string runtime;       // "containerd", "cri-o", "docker", "podman", or "" when the layout does not say
  std::string pod_uid;       // with dashes (8-4-4-4-12); empty: not a Kubernetes pod
  std::string cgroup_path;   // the path the identity was read from
};

// Reads one cgroup path ("/kubepods.slice/…/cri-containerd-<id>.scope").
CgroupIdentity identity_from_cgroup_path(std::string_view path);

// Reads the whole text of /proc/PID/cgroup: the v2 line ("0::path") if it names
// a container, else the first v1 hierarchy that does. nullopt when no line
// names a container or a pod (host processes, systemd services, sessions).
std::optional<CgroupIdentity> identity_from_proc_cgroup(std::string_view text);

}  // namespace spanwire
