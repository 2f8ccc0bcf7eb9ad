#include "loader/own_sockets.h"

#include <filesystem>
#include <system_error>

#include "util/proc_file.h"
#include "common/text.h"

namespace spanwire {
namespace {

// The whole table: one line per socket of the network namespace.
constexpr size_t kMaxTableBytes = 64u << 20;

}  // namespace

std::vector<uint16_t> local_ports_of(std::string_view table, const std::unordered_set<uint64_t>& inodes) {
  // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode ..."
  //  "0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 ..."
  std::vector<uint16_t> ports;
  const auto lines = split_fields(table, "\n");
  for (size_t i = 1; i < lines.size(); ++i) {  // after the header
    const auto cols = split_fields(lines[i], " ", 10);
    uint64_t inode = 0;
    if (cols.size() < 10 || !parse_whole(cols[9], inode) || !inodes.contains(inode)) continue;
    const size_t colon = cols[1].rfind(':');
    uint16_t port = 0;
    if (colon != std::string_view::npos && parse_whole(cols[1].substr(colon + 1), port, 16)) ports.push_back(port);
  }
  return ports;
}

std::vector<uint16_t> own_tcp_ports(const std::string& proc_root, uint32_t tgid) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(proc_root) / std::to_string(tgid);
  std::unordered_set<uint64_t> inodes;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(dir / "fd", ec)) {
    std::error_code link_ec;
    const std::string target = fs::read_symlink(fd.path(), link_ec).string();  // "socket:[12345]"
    uint64_t inode = 0;
    if (!link_ec && target.starts_with("socket:[") && target.ends_with("]") &&
        parse_whole(std::string_view(target).substr(8, target.size() - 9), inode))
      inodes.insert(inode);
  }
  std::vector<uint16_t> ports;
  if (inodes.empty()) return ports;
  for (const char* table : {"tcp", "tcp6"}) {
    auto found = local_ports_of(read_proc_file((dir / "net" / table).string(), kMaxTableBytes), inodes);
    ports.insert(ports.end(), found.begin(), found.end());
  }
  return ports;
}

}  // namespace spanwire
