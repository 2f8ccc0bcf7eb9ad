#include "loader/own_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "util/unique_fd.h"

namespace spanwire {
namespace {

// Rows as the kernel prints them (net/ipv4/tcp_ipv4.c, get_tcp4_sock).
constexpr std::string_view kTable =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0\n"
    "   1: 0100007F:9C40 0100007F:10E1 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 20 4 30 10 -1\n"
    "   2: 0100007F:A000 0100007F:10E1 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0 20 4 30 10 -1\n";

TEST(OwnSockets, PortsOfTheGivenInodesOnly) {
  EXPECT_EQ(local_ports_of(kTable, {2222, 3333}), (std::vector<uint16_t>{0x9C40, 0xA000}));
  EXPECT_EQ(local_ports_of(kTable, {1111}), (std::vector<uint16_t>{8080}));
  EXPECT_TRUE(local_ports_of(kTable, {4444}).empty());
  EXPECT_TRUE(local_ports_of("", {1111}).empty());
  EXPECT_TRUE(local_ports_of("header only\n", {1111}).empty());
}

TEST(OwnSockets, Ipv6RowsAndTruncatedLinesAreHandled) {
  const std::string_view table =
      "  sl  local_address                         remote_address                        st ...\n"
      "   0: 00000000000000000000000001000000:C350 00000000000000000000000001000000:1F90 01 "
      "00000000:00000000 00:00000000 00000000     0        0 5555 1 0 20 4 30 10 -1\n"
      "   1: 00000000000000000000000001000000:C351 truncated\n";
  EXPECT_EQ(local_ports_of(table, {5555}), (std::vector<uint16_t>{0xC350}));
}

TEST(OwnSockets, FindsThisProcessesRealLoopbackConnection) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  UniqueFd client(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  sockaddr_in local{};
  len = sizeof(local);
  ASSERT_EQ(getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len), 0);

  const auto ports = own_tcp_ports("/proc", static_cast<uint32_t>(getpid()));
  EXPECT_NE(std::find(ports.begin(), ports.end(), ntohs(local.sin_port)), ports.end());
  EXPECT_NE(std::find(ports.begin(), ports.end(), ntohs(addr.sin_port)), ports.end());
  EXPECT_TRUE(own_tcp_ports("/nonexistent", 1).empty());
}

}  // namespace
}  // namespace spanwire
