// Go crypto/tls discovery: RET instructions found by Capstone, the version in
// the build info, and a real Go TLS program built with Debian's Go.
#include "tls/go_tls.h"
#include "tls/go_dwarf.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace spanwire::tls {
namespace {

namespace fs = std::filesystem;

TEST(GoTls, FindsEveryReturnInstruction) {
  // push rbp; mov rbp,rsp; test eax,eax; je +1; ret; pop rbp; ret 8; nop
  const std::vector<uint8_t> code = {0x55, 0x48, 0x89, 0xe5, 0x85, 0xc0, 0x74, 0x01,
                                     0xc3, 0x5d, 0xc2, 0x08, 0x00, 0x90};
  EXPECT_EQ(ret_addresses(code, 0x1000), (std::vector<uint64_t>{0x1008, 0x100a}));
}

TEST(GoTls, ReturnBytesInsideOtherInstructionsAreNotReturns) {
  // mov eax, 0xc3c3c3c3; ret: the immediate holds RET opcodes, one real RET at the end.
  const std::vector<uint8_t> code = {0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3};
  EXPECT_EQ(ret_addresses(code, 0), (std::vector<uint64_t>{5}));
}

TEST(GoTls, VersionFromTheBuildInfo) {
  std::vector<uint8_t> s(32, 0);
  const std::string magic = "\xff Go buildinf:";
  std::copy(magic.begin(), magic.end(), s.begin());
  s[14] = 8;    // pointer size
  s[15] = 0x2;  // version inline (Go 1.18+)
  const std::string version = "go1.19.8";
  s.push_back(static_cast<uint8_t>(version.size()));
  s.insert(s.end(), version.begin(), version.end());
  s.push_back(0);
  EXPECT_EQ(go_version_of_buildinfo(s), "go1.19.8");
  s[15] = 0;  // the pointer layout of older Go: not read
  EXPECT_EQ(go_version_of_buildinfo(s), "");
  EXPECT_EQ(go_version_of_buildinfo(std::vector<uint8_t>(10, 0)), "");
}

// Builds a Go program that uses crypto/tls, with and without its symbol table.
class GoBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v go >/dev/null 2>&1") != 0) GTEST_SKIP() << "Debian's Go (golang-go) is not installed";
    dir_ = fs::temp_directory_path() / ("spanwire-go-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "main.go") << R"(package main

import (
	"crypto/tls"
	"fmt"
)

func main() {
	c, err := tls.Dial("tcp", "127.0.0.1:1", &tls.Config{})
	if err == nil {
		c.Write([]byte("x"))
		buf := make([]byte, 1)
		c.Read(buf)
	}
	fmt.Println(err != nil)
}
)";
    const std::string env = "cd " + dir_.string() + " && HOME=" + dir_.string() + " GOCACHE=" +
                            (dir_ / "cache").string() + " GOFLAGS=-mod=mod GO111MODULE=off ";
    ASSERT_EQ(std::system((env + "go build -o plain main.go >build.log 2>&1").c_str()), 0)
        << std::ifstream(dir_ / "build.log").rdbuf();
    ASSERT_EQ(std::system((env + "go build -ldflags=-s -o stripped main.go >>build.log 2>&1").c_str()), 0);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(GoBinary, FindsCryptoTlsReadWithItsReturnsAndWriteAndNewproc) {
  std::string error;
  const auto info = read_go_tls((dir_ / "plain").string(), &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->why_not, "");
  EXPECT_FALSE(info->stripped);
  EXPECT_TRUE(info->go_version.starts_with("go1.")) << info->go_version;
  ASSERT_TRUE(info->read && info->write && info->newproc);
  EXPECT_EQ(info->read->name, "crypto/tls.(*Conn).Read");
  EXPECT_GT(info->write->file_offset, 0u);
  EXPECT_TRUE(info->write->ret_offsets.empty()) << "Write is copied at its entry";
  // The first byte at each return offset of the functions with a return side is a RET opcode.
  std::ifstream file(dir_ / "plain", std::ios::binary);
  for (const GoFunction* f : {&*info->read, &*info->newproc}) {
    EXPECT_GT(f->size, 0u);
    ASSERT_FALSE(f->ret_offsets.empty()) << f->name;
    for (uint64_t r : f->ret_offsets) {
      EXPECT_GT(r, f->file_offset);
      EXPECT_LT(r, f->file_offset + f->size);
      file.seekg(static_cast<std::streamoff>(r));
      const int op = file.get();
      EXPECT_TRUE(op == 0xc3 || op == 0xc2) << f->name << " " << std::hex << op;
    }
  }
  EXPECT_FALSE(info->round_trip) << "this program makes no net/http request";
  EXPECT_NE(describe(*info).find("Read (entry and"), std::string::npos) << describe(*info);
}

// The offsets read from DWARF are the layout assumed for binaries without it.
TEST_F(GoBinary, SocketOffsetsFromDwarfMatchTheAssumedLayout) {
  const auto info = read_go_tls((dir_ / "plain").string());
  ASSERT_TRUE(info);
  ASSERT_TRUE(info->layout.from_dwarf);
  const sw_go_offsets assumed = assumed_conn_layout();
  EXPECT_EQ(info->layout.offsets.conn_iface, assumed.conn_iface);
  EXPECT_EQ(info->layout.offsets.tcpconn_fd, assumed.tcpconn_fd);
  EXPECT_EQ(info->layout.offsets.netfd_sysfd, assumed.netfd_sysfd);
  EXPECT_NE(info->layout.offsets.tcpconn_itab, 0u) << "the (*net.TCPConn, net.Conn) itab, from .symtab";
}

// -s -w removes .symtab and DWARF: the functions come from .gopclntab, at the same places.
TEST_F(GoBinary, StrippedBinariesAreFoundThroughGopclntab) {
  const auto plain = read_go_tls((dir_ / "plain").string());
  const auto info = read_go_tls((dir_ / "stripped").string());
  ASSERT_TRUE(plain && info);
  EXPECT_TRUE(info->stripped);
  EXPECT_EQ(info->why_not, "");
  EXPECT_TRUE(info->go_version.starts_with("go1.")) << "the build info survives stripping";
  EXPECT_FALSE(info->layout.from_dwarf);
  EXPECT_EQ(info->layout.offsets.tcpconn_itab, 0u) << "no symbol: the connection's type is not checked";
  ASSERT_TRUE(info->read && info->write && info->newproc);
  EXPECT_EQ(info->read->address, plain->read->address);
  EXPECT_EQ(info->write->address, plain->write->address);
  EXPECT_EQ(info->newproc->address, plain->newproc->address);
  EXPECT_EQ(info->read->ret_offsets.size(), plain->read->ret_offsets.size());
  EXPECT_NE(describe(*info).find(".gopclntab"), std::string::npos) << describe(*info);
}

// A two-function table in the Go 1.20+ layout, written by hand.
TEST(GoTls, FindsAFunctionInAGopclntab) {
  std::vector<uint8_t> t(256, 0);
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(t.data() + at, &v, 4); };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(t.data() + at, &v, 8); };
  put32(0, 0xfffffff1u);
  t[6] = 1, t[7] = 8;                    // minLC, ptrSize
  const size_t names = 80, pcln = 128;
  put64(8, 2);                           // nfunc
  put64(8 + 2 * 8, 0);                   // textStart: not recorded, .text's address is used
  put64(8 + 3 * 8, names);
  put64(8 + 7 * 8, pcln);
  const std::string text = std::string("main.main") + '\0' + "crypto/tls.(*Conn).Read" + '\0';
  std::memcpy(t.data() + names, text.data(), text.size());
  put32(pcln + 0, 0x00), put32(pcln + 4, 32);   // main.main at +0, its _func at pcln+32
  put32(pcln + 8, 0x40), put32(pcln + 12, 40);  // Read at +0x40, its _func at pcln+40
  put32(pcln + 16, 0x90);                       // end of the last function
  put32(pcln + 32, 0x00), put32(pcln + 36, 0);
  put32(pcln + 40, 0x40), put32(pcln + 44, 10);
  const auto read = find_in_pclntab(t, 0x401000, "crypto/tls.(*Conn).Read");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->address, 0x401040u);
  EXPECT_EQ(read->size, 0x50u);
  EXPECT_FALSE(find_in_pclntab(t, 0x401000, "crypto/tls.(*Conn).Write"));
  EXPECT_FALSE(find_in_pclntab(t, 0x401000, "main.mai")) << "whole names only";
}

TEST(GoTls, PclntabOfAnotherLayoutIsNotRead) {
  std::vector<uint8_t> table(128, 0);
  EXPECT_FALSE(find_in_pclntab(table, 0x401000, "main.main"));
  table[0] = 0xfa, table[1] = table[2] = table[3] = 0xff, table[7] = 8;  // Go 1.16-1.17 magic
  EXPECT_FALSE(find_in_pclntab(table, 0x401000, "main.main"));
  EXPECT_FALSE(find_in_pclntab({}, 0, "main.main"));
}

TEST(GoTls, NotGoIsAnError) {
  std::string error;
  EXPECT_FALSE(read_go_tls("/bin/true", &error));
  EXPECT_NE(error.find("not a Go executable"), std::string::npos) << error;
}

}  // namespace
}  // namespace spanwire::tls
