#include "loader/cgroup_root.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace spanwire {

namespace {
// Where the sensor mounts cgroup2 when the host has not.
constexpr const char* kPrivateMount = "/run/spanwire/cgroup2";
}  // namespace

std::optional<std::string> cgroup2_mount_point(const std::string& mountinfo) {
  // "36 25 0:31 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw": the mount
  // point is field 5; the file system type follows the " - " separator.
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream after(line.substr(dash + 3));
    std::string fstype;
    after >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream before(line.substr(0, dash));
    std::string id, parent, dev, root, point;
    if (before >> id >> parent >> dev >> root >> point && root == "/") return point;
  }
  return std::nullopt;
}

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Inside a cgroup namespace (a container) the visible root is the
// container's own cgroup: a program attached there misses every other
// socket. With the host's PID namespace, PID 1's view is the host's.
std::optional<std::string> host_root_through_pid1() {
  struct stat own {}, host {};
  if (stat("/proc/self/ns/cgroup", &own) != 0 || stat("/proc/1/ns/cgroup", &host) != 0 || own.st_ino == host.st_ino)
    return std::nullopt;
  auto point = cgroup2_mount_point(read_text("/proc/1/mountinfo"));
  if (!point) return std::nullopt;
  return "/proc/1/root" + *point;
}
}  // namespace

std::optional<CgroupRoot> CgroupRoot::open(std::string* why) {
  std::optional<std::string> point = host_root_through_pid1();
  if (!point) point = cgroup2_mount_point(read_text("/proc/self/mountinfo"));
  bool mounted_here = false;
  if (!point) {
    if (mkdir("/run/spanwire", 0700) != 0 && errno != EEXIST) {
      *why = std::string("cgroup v2 is not mounted and /run/spanwire cannot be created (") + std::strerror(errno) + ")";
      return std::nullopt;
    }
    if (mkdir(kPrivateMount, 0700) != 0 && errno != EEXIST) {
      *why = std::string("cgroup v2 is not mounted and ") + kPrivateMount + " cannot be created (" +
             std::strerror(errno) + ")";
      return std::nullopt;
    }
    if (mount("cgroup2", kPrivateMount, "cgroup2", 0, nullptr) != 0) {
      *why = std::string("cgroup v2 is not mounted and mounting it failed (") + std::strerror(errno) +
             "): mount it with 'mount -t cgroup2 none /sys/fs/cgroup/unified', or in a container mount the host's";
      return std::nullopt;
    }
    spdlog::info("mounted cgroup2 at {}", kPrivateMount);
    point = kPrivateMount;
    mounted_here = true;
  }
  UniqueFd fd(::open(point->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    *why = "cannot open the cgroup v2 root " + *point + " (" + std::strerror(errno) + ")";
    if (mounted_here) umount2(point->c_str(), MNT_DETACH);
    return std::nullopt;
  }
  return CgroupRoot(std::move(fd), *point, mounted_here);
}

CgroupRoot::~CgroupRoot() {
  if (!mounted_here_) return;
  fd_ = UniqueFd();
  if (umount2(path_.c_str(), MNT_DETACH) != 0)
    spdlog::debug("unmounting {} failed: {}", path_, std::strerror(errno));
}

}  // namespace spanwire
