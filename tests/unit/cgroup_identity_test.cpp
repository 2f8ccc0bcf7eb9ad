#include "process/cgroup_identity.h"

#include <gtest/gtest.h>

namespace spanwire {
namespace {

const std::string kId = "4f9e1b7c2d3a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
const std::string kUid = "7d1a2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const std::string kUidSystemd = "7d1a2b3c_4e5f_4a6b_8c7d_9e0f1a2b3c4d";

struct Fixture {
  const char* what;
  std::string proc_cgroup;  // the whole /proc/PID/cgroup text
  std::string runtime;
  bool in_pod;
};

TEST(CgroupIdentity, ReadsEveryRuntimeLayout) {
  const Fixture fixtures[] = {
      {"containerd, systemd driver, cgroup v2",
       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd +
           ".slice/cri-containerd-" + kId + ".scope\n",
       "containerd", true},
      {"containerd, cgroupfs driver, cgroup v2",
       "0::/kubepods/besteffort/pod" + kUid + "/" + kId + "\n", "", true},
      {"CRI-O, systemd driver, guaranteed QoS (no QoS slice)",
       "0::/kubepods.slice/kubepods-pod" + kUidSystemd + ".slice/crio-" + kId + ".scope\n", "cri-o", true},
      {"Docker via dockershim, systemd driver",
       "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice/docker-" +
           kId + ".scope\n",
       "docker", true},
      {"plain Docker, systemd driver", "0::/system.slice/docker-" + kId + ".scope\n", "docker", false},
      {"plain Docker, cgroupfs driver, cgroup v1",
       "12:pids:/docker/" + kId + "\n11:memory:/docker/" + kId + "\n1:name=systemd:/docker/" + kId + "\n", "",
       false},
      {"Podman", "0::/machine.slice/libpod-" + kId + ".scope/container\n", "podman", false},
      {"containerd, cgroupfs driver, cgroup v1 (several hierarchies)",
       "12:hugetlb:/kubepods/burstable/pod" + kUid + "/" + kId + "\n" + "11:cpu,cpuacct:/kubepods/burstable/pod" +
           kUid + "/" + kId + "\n" + "1:name=systemd:/kubepods/burstable/pod" + kUid + "/" + kId + "\n" +
           "0::/\n",
       "", true},
  };
  for (const auto& f : fixtures) {
    const auto id = identity_from_proc_cgroup(f.proc_cgroup);
    ASSERT_TRUE(id.has_value()) << f.what;
    EXPECT_EQ(id->container_id, kId) << f.what;
    EXPECT_EQ(id->runtime, f.runtime) << f.what;
    EXPECT_EQ(id->pod_uid, f.in_pod ? kUid : "") << f.what;
  }
}

TEST(CgroupIdentity, HostProcessesAndMonitorsAreNotContainers) {
  for (const std::string& text : std::initializer_list<std::string>{
           std::string("0::/user.slice/user-0.slice/session-3.scope\n"),
           std::string("0::/system.slice/nginx.service\n"),
           std::string("0::/\n"),
           std::string("12:pids:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n0::/\n"),
           // CRI-O's conmon runs beside the container, in a scope of its own.
           "0::/kubepods.slice/kubepods-pod" + kUidSystemd + ".slice/crio-conmon-" + kId + ".scope\n",
       }) {
    const auto id = identity_from_proc_cgroup(text);
    if (id) {
      EXPECT_TRUE(id->container_id.empty()) << text;
    }
  }
  // conmon still says which pod it serves.
  const auto conmon = identity_from_proc_cgroup("0::/kubepods.slice/kubepods-pod" + kUidSystemd +
                                                ".slice/crio-conmon-" + kId + ".scope\n");
  ASSERT_TRUE(conmon.has_value());
  EXPECT_EQ(conmon->pod_uid, kUid);
  EXPECT_FALSE(identity_from_proc_cgroup("0::/system.slice/docker.service\n").has_value());
}

TEST(CgroupIdentity, RejectsLookalikes) {
  // Not 64 hex digits, upper case, or a "pod" that is not a UID.
  EXPECT_TRUE(identity_from_cgroup_path("/docker/" + kId.substr(1)).container_id.empty());
  std::string upper = kId;
  upper[0] = 'A';
  EXPECT_TRUE(identity_from_cgroup_path("/docker/" + upper).container_id.empty());
  EXPECT_TRUE(identity_from_cgroup_path("/kubepods/podcast/" + kId).pod_uid.empty());
  EXPECT_TRUE(identity_from_cgroup_path("/system.slice/ipod-" + kUid + ".slice").pod_uid.empty());
}

}  // namespace
}  // namespace spanwire
