// Go crypto/tls discovery: RET instructions found by Capstone, the version in
// the build info, and a real Go TLS program built with Debian's Go.
#include "tls/go_tls.h"

#include <gtest/gtest.h>

#include <cstdlib>
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

TEST_F(GoBinary, FindsCryptoTlsReadAndWriteWithTheirReturns) {
  std::string error;
  const auto info = read_go_tls((dir_ / "plain").string(), &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->why_not, "");
  EXPECT_TRUE(info->go_version.starts_with("go1.")) << info->go_version;
  ASSERT_TRUE(info->read && info->write);
  EXPECT_EQ(info->read->name, "crypto/tls.(*Conn).Read");
  for (const GoFunction* f : {&*info->read, &*info->write}) {
    EXPECT_GT(f->size, 0u);
    ASSERT_FALSE(f->ret_offsets.empty()) << f->name;
    for (uint64_t r : f->ret_offsets) {
      EXPECT_GT(r, f->file_offset);
      EXPECT_LT(r, f->file_offset + f->size);
    }
  }
  // The first byte at each return offset is a RET opcode.
  std::ifstream file(dir_ / "plain", std::ios::binary);
  for (uint64_t r : info->write->ret_offsets) {
    file.seekg(static_cast<std::streamoff>(r));
    const int op = file.get();
    EXPECT_TRUE(op == 0xc3 || op == 0xc2) << std::hex << op;
  }
  EXPECT_NE(describe(*info).find("Read ("), std::string::npos);
}

TEST_F(GoBinary, StrippedBinariesSayWhatIsMissing) {
  const auto info = read_go_tls((dir_ / "stripped").string());
  ASSERT_TRUE(info);
  EXPECT_NE(info->why_not.find("stripped"), std::string::npos) << info->why_not;
  EXPECT_TRUE(info->go_version.starts_with("go1.")) << "the build info survives stripping";
}

TEST(GoTls, NotGoIsAnError) {
  std::string error;
  EXPECT_FALSE(read_go_tls("/bin/true", &error));
  EXPECT_NE(error.find("not a Go executable"), std::string::npos) << error;
}

}  // namespace
}  // namespace spanwire::tls
