// TlsHooks: one attachment per distinct library file, new files found after an
// exec, detach when the last user exits (host libraries stay), failures counted.
#include "tls/tls_hooks.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "metrics/metrics.h"

namespace spanwire::tls {
namespace {

namespace fs = std::filesystem;
const fs::path kSystemLibssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
constexpr uint64_t kMs = 1'000'000;

// Counts the probes alive, so a test sees attach and detach.
struct FakeProbes final : AttachedProbes {
  explicit FakeProbes(int& live) : live_(live) { ++live_; }
  ~FakeProbes() override { --live_; }
  int& live_;
};

class TlsHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSystemLibssl)) GTEST_SKIP() << kSystemLibssl << " is not installed";
    std::string tmpl = ::testing::TempDir() + "/tls_hooks_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    // The host has its own libssl; pids 100 and 200 share a container's copy.
    copy(kSystemLibssl, root_ / "host/usr/lib/x86_64-linux-gnu/libssl.so.3");
    copy(kSystemLibssl, root_ / "proc/100/root/lib/libssl.so.3");
    fs::create_directories(root_ / "proc/200/root/lib");
    fs::create_hard_link(root_ / "proc/100/root/lib/libssl.so.3", root_ / "proc/200/root/lib/libssl.so.3");
    make_pid(100, "/lib/libssl.so.3");
    make_pid(200, "/lib/libssl.so.3");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static void copy(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(from, to);
  }
  void make_pid(uint32_t pid, const std::string& lib) {
    const fs::path dir = root_ / "proc" / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "comm") << "app\n";
    std::ofstream(dir / "maps") << "7f0000000000-7f0000001000 r-xp 00000000 fd:01 1 " << lib << "\n";
    fs::create_symlink("/bin/true", dir / "exe");
  }
  TlsHooks make_hooks(Discovery& d) {
    return TlsHooks(
        d,
        [this](const Library& lib, std::string* error) -> std::unique_ptr<AttachedProbes> {
          attached_paths_.push_back(lib.open_path);
          if (fail_) {
            *error = "refused";
            return nullptr;
          }
          return std::make_unique<FakeProbes>(live_);
        },
        metrics_, /*self_pid=*/1, (root_ / "host").string());
  }

  fs::path root_;
  Metrics metrics_;
  int live_ = 0;
  bool fail_ = false;
  std::vector<std::string> attached_paths_;
};

TEST_F(TlsHooksTest, OneAttachmentPerFileAndDetachWithTheLastUser) {
  Discovery d((root_ / "proc").string());
  TlsHooks hooks = make_hooks(d);
  hooks.start(0);
  EXPECT_EQ(live_, 2);  // the host's libssl and the shared copy, not one per process
  EXPECT_EQ(attached_paths_.size(), 2u);
  EXPECT_EQ(metrics_.tls_files_hooked.load(), 2u);

  hooks.on_exit(100);
  EXPECT_EQ(live_, 2);  // 200 still uses the copy
  hooks.on_exit(200);
  EXPECT_EQ(live_, 1);  // the host library stays for processes still to come
  EXPECT_EQ(metrics_.tls_files_hooked.load(), 1u);
}

TEST_F(TlsHooksTest, LibraryOfANewProcessIsHookedShortlyAfterExec) {
  Discovery d((root_ / "proc").string());
  TlsHooks hooks = make_hooks(d);
  hooks.start(0);
  const int before = live_;
  copy(kSystemLibssl, root_ / "proc/300/root/opt/libssl.so.3");
  make_pid(300, "/opt/libssl.so.3");
  hooks.on_exec(300, 1000 * kMs);
  hooks.tick(1000 * kMs + 50 * kMs);
  EXPECT_EQ(live_, before);  // its libraries may not be loaded yet
  hooks.tick(1000 * kMs + TlsHooks::kExecRescans[0]);
  EXPECT_EQ(live_, before + 1);
  hooks.tick(1000 * kMs + TlsHooks::kExecRescans[2]);  // later rescans attach nothing twice
  EXPECT_EQ(live_, before + 1);
  hooks.on_exit(300);
  EXPECT_EQ(live_, before);
}

TEST_F(TlsHooksTest, PeriodicScanFindsALateDlopen) {
  Discovery d((root_ / "proc").string());
  TlsHooks hooks = make_hooks(d);
  hooks.start(0);
  const int before = live_;
  copy(kSystemLibssl, root_ / "proc/400/root/plugins/libssl.so.3");
  make_pid(400, "/plugins/libssl.so.3");  // no exec seen: loaded later by dlopen
  hooks.tick(TlsHooks::kFullScanInterval - 1);
  EXPECT_EQ(live_, before);
  hooks.tick(TlsHooks::kFullScanInterval);
  EXPECT_EQ(live_, before + 1);
}

TEST_F(TlsHooksTest, FailedAttachIsCountedOnceNotRetried) {
  fail_ = true;
  Discovery d((root_ / "proc").string());
  TlsHooks hooks = make_hooks(d);
  hooks.start(0);
  EXPECT_EQ(live_, 0);
  EXPECT_EQ(metrics_.tls_attach_failures.load(), 2u);
  hooks.tick(TlsHooks::kFullScanInterval);
  EXPECT_EQ(attached_paths_.size(), 2u);
  EXPECT_EQ(metrics_.tls_files_hooked.load(), 0u);
  for (const auto& [key, file] : hooks.files()) EXPECT_EQ(file.error, "refused");
}

}  // namespace
}  // namespace spanwire::tls
