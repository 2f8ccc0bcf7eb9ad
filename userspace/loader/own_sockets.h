// The sensor's own TCP connections that exist before its probes attach.
// The kernel learns the local port of every connection the sensor opens
// afterwards (self_ports), so that the far end of the sensor's own traffic
// (a collector or API server on this node) is not traced: that would parse
// every exported span again and trace the exports themselves. Connections
// opened earlier (a gRPC channel, the Kubernetes watch) are found here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace spanwire {

// Local ports of the rows of a /proc/PID/net/tcp or tcp6 table whose socket
// inode is in `inodes`.
std::vector<uint16_t> local_ports_of(std::string_view table, const std::unordered_set<uint64_t>& inodes);

// Local ports of the TCP sockets process `tgid` holds open.
std::vector<uint16_t> own_tcp_ports(const std::string& proc_root, uint32_t tgid);

}  // namespace spanwire
