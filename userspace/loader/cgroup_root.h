// The root of the cgroup v2 hierarchy, where the sock_ops program attaches
// (every socket of every cgroup below it inherits the program). Uses the
// host's mount when there is one, else mounts cgroup2 privately for the
// sensor's lifetime (RAII: unmounted when destroyed).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "util/unique_fd.h"

namespace spanwire {

class CgroupRoot {
 public:
  // The root, opened; nullopt with *why set (one line) when there is none.
  static std::optional<CgroupRoot> open(std::string* why);
  CgroupRoot(CgroupRoot&& other) noexcept
      : fd_(std::move(other.fd_)), path_(std::move(other.path_)), mounted_here_(std::exchange(other.mounted_here_, false)) {}
  CgroupRoot& operator=(CgroupRoot&&) = delete;
  CgroupRoot(const CgroupRoot&) = delete;
  ~CgroupRoot();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  CgroupRoot(UniqueFd fd, std::string path, bool mounted_here)
      : fd_(std::move(fd)), path_(std::move(path)), mounted_here_(mounted_here) {}
  UniqueFd fd_;
  std::string path_;
  bool mounted_here_ = false;
};

// The cgroup v2 mount point listed in a /proc/self/mountinfo text, if any.
std::optional<std::string> cgroup2_mount_point(const std::string& mountinfo);

}  // namespace spanwire
