// Finding the cgroup v2 root the sock_ops program attaches to.
#include "loader/cgroup_root.h"

#include <gtest/gtest.h>

namespace spanwire {
namespace {

TEST(CgroupRoot, FindsAUnifiedHierarchy) {
  EXPECT_EQ(cgroup2_mount_point("35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - cgroup2 cgroup2 "
                                "rw,nsdelegate\n"),
            "/sys/fs/cgroup");
}

TEST(CgroupRoot, FindsTheHybridLayoutsUnifiedMount) {
  const char* hybrid =
      "30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw\n"
      "32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
  EXPECT_EQ(cgroup2_mount_point(hybrid), "/sys/fs/cgroup/unified");
}

TEST(CgroupRoot, IgnoresV1AndBindMountsOfSubtrees) {
  EXPECT_FALSE(cgroup2_mount_point("32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"));
  // A container's view of its own cgroup is not the root: programs there miss other sockets.
  EXPECT_FALSE(cgroup2_mount_point("40 30 0:27 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"));
  EXPECT_FALSE(cgroup2_mount_point(""));
}

}  // namespace
}  // namespace spanwire
