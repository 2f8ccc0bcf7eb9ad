#include "tls/library_discovery.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace spanwire::tls {
namespace {

namespace fs = std::filesystem;

const fs::path kSystemLibssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
const fs::path kSystemLibcrypto = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";

TEST(TlsParseMaps, DistinctPathsWithExecFlagAndInode) {
  const std::string maps = R"(55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1311 /usr/bin/curl
55d0c0a02000-55d0c0a10000 r-xp 00002000 fd:01 1311 /usr/bin/curl
55d0c1b00000-55d0c1b21000 rw-p 00000000 00:00 0                          [heap]
7f1a2b000000-7f1a2b05e000 r--p 00000000 fd:01 2204                       /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1a2b05e000-7f1a2b0fa000 r-xp 0005e000 fd:01 2204                       /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1a2b0fa000-7f1a2b118000 r--p 000fa000 fd:01 2204                       /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1a2b118000-7f1a2b123000 rw-p 00118000 fd:01 2204                       /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1a2b200000-7f1a2b228000 r--p 00000000 fd:01 3001                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f1a2b228000-7f1a2b3bd000 r-xp 00028000 fd:01 3001                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f1a2b400000-7f1a2b500000 rw-p 00000000 00:00 0 
7f1a2b500000-7f1a2b501000 r--s 00000000 00:05 77                         /tmp/old cache.bin (deleted)
7f1a2b600000-7f1a2b601000 r--p 00000000 fd:01 4242                       /opt/My App/lib/data file.bin
7ffd3e1f0000-7ffd3e1f4000 r--p 00000000 00:00 0                          [vvar]
7ffd3e1f4000-7ffd3e1f6000 r-xp 00000000 00:00 0                          [vdso]
)";
  const std::vector<Mapping> got = parse_maps(maps);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].path, "/usr/bin/curl");
  EXPECT_TRUE(got[0].executable);
  EXPECT_EQ(got[0].inode, 1311u);
  EXPECT_EQ(got[1].path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  EXPECT_TRUE(got[1].executable);
  EXPECT_EQ(got[1].inode, 2204u);
  EXPECT_EQ(got[2].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(got[3].path, "/opt/My App/lib/data file.bin");
  EXPECT_FALSE(got[3].executable);
  EXPECT_EQ(got[3].inode, 4242u);
  EXPECT_TRUE(parse_maps("").empty());
}

TEST(TlsLibraryName, OpenSslAndGnutls) {
  EXPECT_TRUE(is_tls_library_name("libssl.so.3"));
  EXPECT_TRUE(is_tls_library_name("libssl.so.1.1"));
  EXPECT_TRUE(is_tls_library_name("/usr/lib/x86_64-linux-gnu/libssl.so"));
  EXPECT_TRUE(is_tls_library_name("/usr/lib/x86_64-linux-gnu/libgnutls.so.30"));
  EXPECT_FALSE(is_tls_library_name("/usr/lib/x86_64-linux-gnu/libssl3.so"));  // NSS
  EXPECT_FALSE(is_tls_library_name("libcrypto.so.3"));
  EXPECT_FALSE(is_tls_library_name("/opt/mylibssl.so.3"));
  EXPECT_FALSE(is_tls_library_name("libgnutls-openssl.so.27"));  // GnuTLS's OpenSSL shim
  EXPECT_FALSE(is_tls_library_name("libgnutlsxx.so.30"));
}

TEST(TlsElfInfo, RealGnutlsHasItsRecordFunctions) {
  const char* lib = "/usr/lib/x86_64-linux-gnu/libgnutls.so.30";
  if (!fs::exists(lib)) GTEST_SKIP() << lib << " is not installed";
  const auto info = read_elf_info(lib);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->ssl.gnutls());
  EXPECT_FALSE(info->ssl.openssl());
  EXPECT_TRUE(info->ssl.hookable());
  EXPECT_EQ(info->ssl.names(), (std::vector<std::string>{"gnutls_record_recv", "gnutls_record_send"}));
}

TEST(TlsElfInfo, RealLibsslHasAllSymbols) {
  if (!fs::exists(kSystemLibssl)) GTEST_SKIP() << kSystemLibssl << " is not installed";
  std::string error;
  const auto info = read_elf_info(kSystemLibssl, &error);
  ASSERT_TRUE(info) << error;
  EXPECT_TRUE(info->ssl.ssl_read && info->ssl.ssl_write && info->ssl.ssl_read_ex && info->ssl.ssl_write_ex &&
              info->ssl.ssl_set_fd);
  EXPECT_TRUE(info->ssl.hookable());
  EXPECT_FALSE(info->go);
  EXPECT_EQ(info->ssl.names(),
            (std::vector<std::string>{"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex", "SSL_set_fd"}));
}

TEST(TlsElfInfo, LibcryptoIsNotHookable) {
  if (!fs::exists(kSystemLibcrypto)) GTEST_SKIP() << kSystemLibcrypto << " is not installed";
  const auto info = read_elf_info(kSystemLibcrypto);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->ssl.hookable());
}

TEST(TlsElfInfo, ProgramImportingSslIsNotHookable) {
  // curl imports SSL_read from libssl: undefined symbols must not count.
  if (!fs::exists("/usr/bin/curl")) GTEST_SKIP() << "/usr/bin/curl is not installed";
  const auto info = read_elf_info("/usr/bin/curl");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->ssl.hookable());
}

// A fixture directory under the test temp dir, removed afterwards.
class TlsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/tls_discovery_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  static void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  static void copy(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(from, to);
  }
  // <proc>/<pid> with comm, maps and an exe symlink.
  void make_pid(uint32_t pid, const std::string& comm, const std::string& maps, const fs::path& exe = "/bin/true") {
    const fs::path dir = proc() / std::to_string(pid);
    write(dir / "comm", comm + "\n");
    write(dir / "maps", maps);
    fs::create_symlink(exe, dir / "exe");
  }
  static std::string map_line(const std::string& path, const char* perms = "r-xp") {
    return std::string("7f0000000000-7f0000001000 ") + perms + " 00000000 fd:01 12345    " + path + "\n";
  }
  fs::path proc() const { return root_ / "proc"; }
  fs::path root_;
};

TEST_F(TlsFixture, ElfInfoRejectsNonElf) {
  write(root_ / "notes.txt", "hello, not an ELF file\n");
  std::string error;
  EXPECT_FALSE(read_elf_info(root_ / "notes.txt", &error));
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(read_elf_info(root_ / "missing.so", &error));
  EXPECT_FALSE(error.empty());
}

TEST_F(TlsFixture, DiscoveryOnProcRoot) {
  if (!fs::exists(kSystemLibssl)) GTEST_SKIP() << kSystemLibssl << " is not installed";
  const std::string libc = map_line("/usr/lib/x86_64-linux-gnu/libc.so.6");
  // 100 and 200 map one file (hard links) under different paths.
  const fs::path lib100 = proc() / "100/root/usr/lib/x86_64-linux-gnu/libssl.so.3";
  copy(kSystemLibssl, lib100);
  fs::create_directories(proc() / "200/root/opt/app/lib");
  fs::create_hard_link(lib100, proc() / "200/root/opt/app/lib/libssl.so.3");
  make_pid(100, "curl", map_line("/usr/bin/curl") + map_line("/usr/lib/x86_64-linux-gnu/libssl.so.3", "r--p") +
                            map_line("/usr/lib/x86_64-linux-gnu/libssl.so.3") + libc);
  make_pid(200, "app", map_line("/opt/app/lib/libssl.so.3") + libc);
  make_pid(300, "true", map_line("/usr/bin/true") + libc);
  make_pid(400, "ghost", map_line("/usr/lib/libssl.so.3") + libc);  // not in its root
  const fs::path node = proc() / "500/root/usr/bin/node";
  copy(kSystemLibssl, node);
  make_pid(500, "node", map_line("/usr/bin/node", "r--p") + map_line("/usr/bin/node") + libc, node);
  // A libssl without SSL_read/SSL_write (stands in for a broken or stripped one).
  if (fs::exists(kSystemLibcrypto)) copy(kSystemLibcrypto, proc() / "600/root/lib/libssl.so.1.1");
  make_pid(600, "old", map_line("/lib/libssl.so.1.1") + libc);
  make_pid(700, "kworker/0:1", "");
  fs::create_directories(proc() / "sys");
  fs::create_directories(proc() / "12abc");
  write(proc() / "version", "Linux\n");

  Discovery d(proc().string());
  const std::vector<ProcessReport> reports = d.scan_all();
  ASSERT_EQ(reports.size(), 7u);
  for (size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(reports[i].pid, (i + 1) * 100);

  ASSERT_EQ(d.libraries().size(), 2u);
  ASSERT_EQ(reports[0].libraries.size(), 1u);
  EXPECT_EQ(reports[0].comm, "curl");
  EXPECT_EQ(reports[0].why_not, "");
  EXPECT_EQ(reports[1].libraries, reports[0].libraries);
  const Library& shared = d.libraries().at(reports[0].libraries[0]);
  EXPECT_EQ(shared.kind, LibraryKind::kSharedLibssl);
  EXPECT_EQ(shared.path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  EXPECT_EQ(shared.open_path, lib100.string());
  EXPECT_TRUE(shared.symbols.hookable());

  EXPECT_TRUE(reports[2].libraries.empty());
  EXPECT_EQ(reports[2].why_not, "no TLS library mapped");
  EXPECT_EQ(reports[3].why_not, "TLS library mapped but not readable: /usr/lib/libssl.so.3");

  ASSERT_EQ(reports[4].libraries.size(), 1u);
  const Library& embedded = d.libraries().at(reports[4].libraries[0]);
  EXPECT_EQ(embedded.kind, LibraryKind::kStaticInExecutable);
  EXPECT_EQ(embedded.path, "/usr/bin/node");
  EXPECT_EQ(embedded.open_path, node.string());

  if (fs::exists(kSystemLibcrypto)) {
    EXPECT_EQ(reports[5].why_not,
              "TLS library without SSL_read/SSL_write or gnutls_record_recv/send symbols: /lib/libssl.so.1.1");
  }
  EXPECT_EQ(reports[6].why_not, "kernel thread");
  EXPECT_EQ(d.scan(999).why_not, "process exited");
  EXPECT_EQ(d.libraries().size(), 2u);  // the failures added nothing
}

TEST_F(TlsFixture, SystemLibrariesDeduplicatedByInode) {
  if (!fs::exists(kSystemLibssl)) GTEST_SKIP() << kSystemLibssl << " is not installed";
  const fs::path dir = root_ / "host/usr/lib/x86_64-linux-gnu";
  copy(kSystemLibssl, dir / "libssl.so.3");
  fs::create_symlink("libssl.so.3", dir / "libssl.so");
  write(dir / "libssl3.so", "NSS, not OpenSSL");
  write(root_ / "host/usr/local/lib/libssl.so.1.1", "junk");

  Discovery d(proc().string());
  const std::vector<FileKey> keys = d.scan_system_libraries((root_ / "host").string());
  ASSERT_EQ(keys.size(), 1u);
  ASSERT_EQ(d.libraries().size(), 1u);
  const Library& lib = d.libraries().at(keys[0]);
  EXPECT_EQ(lib.path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  EXPECT_EQ(lib.open_path, (dir / "libssl.so.3").string());
  EXPECT_EQ(lib.kind, LibraryKind::kSharedLibssl);
}

}  // namespace
}  // namespace spanwire::tls
