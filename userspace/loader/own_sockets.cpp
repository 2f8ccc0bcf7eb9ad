#include "loader/own_sockets.h"

#include <charconv>
#include <filesystem>
#include <system_error>

#include "util/proc_file.h"

namespace spanwire {
namespace {

// The whole table: one line per socket of the network namespace.
constexpr size_t kMaxTableBytes = 64u << 20;

template <class T>
bool parse(std::string_view s, T& out, int base) {
  auto res = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

}  // namespace

std::vector<uint16_t> local_ports_of(std::string_view table, const std::unordered_set<uint64_t>& inodes) {
  // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode ..."
  //  "0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 ..."
  std::vector<uint16_t> ports;
  size_t line_start = table.find('\n');  // skip the header
  while (line_start != std::string_view::npos && line_start + 1 < table.size()) {
    const size_t next = table.find('\n', line_start + 1);
    std::string_view line = table.substr(line_start + 1, next == std::string_view::npos ? next : next - line_start - 1);
    line_start = next;
    std::vector<std::string_view> cols;
    for (size_t i = 0; i < line.size() && cols.size() < 10;) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ') ++j;
      if (j > i) cols.push_back(line.substr(i, j - i));
      i = j;
    }
    if (cols.size() < 10) continue;
    uint64_t inode = 0;
    if (!parse(cols[9], inode, 10) || !inodes.contains(inode)) continue;
    const size_t colon = cols[1].rfind(':');
    uint16_t port = 0;
    if (colon != std::string_view::npos && parse(cols[1].substr(colon + 1), port, 16)) ports.push_back(port);
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
        parse(std::string_view(target).substr(8, target.size() - 9), inode, 10))
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
