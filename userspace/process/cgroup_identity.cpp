#include "process/cgroup_identity.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace spanwire {

namespace {

constexpr size_t kContainerIdLength = 64;

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isdigit(c) || (c >= 'a' && c <= 'f');
  });
}

// The path's last component that carries a container id, and the runtime its
// prefix names. Systemd scopes: "<prefix>-<id>.scope"; cgroupfs: "<id>" or
// "<prefix>-<id>".
struct Prefix {
  std::string_view text;
  std::string_view runtime;
};
constexpr std::array<Prefix, 6> kPrefixes = {{
    {"cri-containerd-", "containerd"},
    {"crio-", "cri-o"},
    {"docker-", "docker"},
    {"libpod-", "podman"},
    {"containerd-", "containerd"},
    {"cri-o-", "cri-o"},
}};

bool container_in(std::string_view component, CgroupIdentity& out) {
  if (component.ends_with(".scope")) component.remove_suffix(6);
  std::string_view runtime;
  for (const auto& p : kPrefixes) {
    if (component.starts_with(p.text)) {
      component.remove_prefix(p.text.size());
      runtime = p.runtime;
      break;
    }
  }
  // "crio-conmon-<id>" is CRI-O's monitor process, not the container.
  if (component.size() != kContainerIdLength || !is_hex(component)) return false;
  out.container_id = std::string(component);
  out.runtime = std::string(runtime);
  return true;
}

// "pod<uid>" (cgroupfs, dashes) or "kubepods-<qos>-pod<uid>.slice" /
// "kubepods-pod<uid>.slice" (systemd, dashes written as underscores).
bool pod_in(std::string_view component, CgroupIdentity& out) {
  if (component.ends_with(".slice")) component.remove_suffix(6);
  const size_t at = component.rfind("pod");
  if (at == std::string_view::npos) return false;
  if (at != 0 && component[at - 1] != '-') return false;
  std::string uid(component.substr(at + 3));
  std::replace(uid.begin(), uid.end(), '_', '-');
  // 8-4-4-4-12 hex digits.
  if (uid.size() != 36) return false;
  for (size_t i = 0; i < uid.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const auto c = static_cast<unsigned char>(uid[i]);
    if (dash ? c != '-' : !(std::isdigit(c) || (c >= 'a' && c <= 'f'))) return false;
  }
  out.pod_uid = std::move(uid);
  return true;
}

}  // namespace

CgroupIdentity identity_from_cgroup_path(std::string_view path) {
  CgroupIdentity out;
  out.cgroup_path = std::string(path);
  // The deepest container component wins (nested runtimes put the inner one last).
  size_t end = path.size();
  while (end > 0) {
    const size_t slash = path.rfind('/', end - 1);
    const size_t begin = slash == std::string_view::npos ? 0 : slash + 1;
    const std::string_view component = path.substr(begin, end - begin);
    if (out.container_id.empty()) container_in(component, out);
    if (out.pod_uid.empty()) pod_in(component, out);
    if (slash == std::string_view::npos) break;
    end = slash;
  }
  return out;
}

std::optional<CgroupIdentity> identity_from_proc_cgroup(std::string_view text) {
  std::optional<CgroupIdentity> v1;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // hierarchy-id:controllers:path; the path may itself hold ':'.
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const bool unified = line.substr(0, first) == "0" && second == first + 1;
    CgroupIdentity id = identity_from_cgroup_path(line.substr(second + 1));
    if (id.container_id.empty() && id.pod_uid.empty()) continue;
    if (unified) return id;
    if (!v1 || (v1->container_id.empty() && !id.container_id.empty())) v1 = std::move(id);
  }
  return v1;
}

}  // namespace spanwire
