#include "loader/inflight.h"

#include <sys/syscall.h>

#include <gtest/gtest.h>

namespace spanwire {
namespace {

TEST(Inflight, ParsesABlockedRecvfrom) {
  // What /proc/PID/task/TID/syscall shows for a thread blocked in recvfrom(5, buf, 8192, 0, NULL, NULL).
  auto call = parse_proc_syscall("45 0x5 0x7f3a2c001000 0x2000 0x0 0x0 0x0 0x7ffd1e0c2a48 0x7f3a31b2e7cc\n");
  ASSERT_TRUE(call);
  EXPECT_EQ(call->nr, SYS_recvfrom);
  EXPECT_EQ(call->args[0], 5u);
  EXPECT_EQ(call->args[1], 0x7f3a2c001000u);
  auto stash = stash_for(*call, 1234);
  ASSERT_TRUE(stash);
  EXPECT_EQ(stash->fd, 5);
  EXPECT_EQ(stash->buf, 0x7f3a2c001000u);
  EXPECT_EQ(stash->sys, SW_SYS_RECVFROM);
  EXPECT_EQ(stash->dir, SW_DIR_INGRESS);
  EXPECT_EQ(stash->nr, static_cast<uint32_t>(SYS_recvfrom));
  EXPECT_EQ(stash->sk, 0u);  // found from the fd by the kernel at exit
  EXPECT_EQ(stash->ts_start, 1234u);
}

TEST(Inflight, VectoredCallsKeepTheirIovecCount) {
  auto call = parse_proc_syscall("19 0x9 0x7ffc00001000 0x3 0x0 0x0 0x0 0x7ffd 0x7f3a");
  ASSERT_TRUE(call);
  auto stash = stash_for(*call, 0);
  ASSERT_TRUE(stash);
  EXPECT_EQ(stash->sys, SW_SYS_READV);
  EXPECT_EQ(stash->count, 3u);
}

TEST(Inflight, ABlockedAcceptStartsAServerConnectionAtItsExit) {
  // accept4(3, NULL, NULL, SOCK_CLOEXEC): the fd it returns is the connection.
  auto stash = stash_for(parse_proc_syscall("288 0x3 0x0 0x0 0x80000 0x0 0x0 0x7ffd 0x7f3a").value(), 0);
  EXPECT_EQ(stash.value().sys, SW_SYS_ACCEPT);
  EXPECT_EQ(stash->fd, -1);
  EXPECT_EQ(stash->nr, static_cast<uint32_t>(SYS_accept4));
}

TEST(Inflight, IgnoresRunningThreadsAndOtherSyscalls) {
  EXPECT_FALSE(parse_proc_syscall("running\n"));
  EXPECT_FALSE(parse_proc_syscall("-1 0x7ffd1e0c2a48 0x7f3a31b2e7cc\n"));
  EXPECT_FALSE(parse_proc_syscall(""));
  EXPECT_FALSE(parse_proc_syscall("45 0x5 zz 0x0 0x0 0x0 0x0 0x1 0x2"));
  auto epoll = parse_proc_syscall("232 0x4 0x7ffd 0x80 0xffffffff 0x0 0x0 0x1 0x2");  // epoll_wait
  ASSERT_TRUE(epoll);
  EXPECT_FALSE(stash_for(*epoll, 0));
}

}  // namespace
}  // namespace spanwire
