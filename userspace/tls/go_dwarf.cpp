#include "tls/go_dwarf.h"

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <map>
#include <memory>
#include <string>

namespace spanwire::tls {

namespace {

struct DwarfEnd {
  void operator()(Dwarf* dw) const { dwarf_end(dw); }
};

using Members = std::map<std::string, uint64_t>;  // member name -> byte offset

// The members of the structs named in `wanted` (top-level DIEs of each unit;
// Go emits its types there), first definition wins.
std::map<std::string, Members> struct_members(Dwarf* dw, const std::map<std::string, std::string>& wanted) {
  std::map<std::string, Members> out;
  Dwarf_Off off = 0, next = 0;
  size_t header = 0;
  while (out.size() < wanted.size() && dwarf_nextcu(dw, off, &next, &header, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu, die;
    if (dwarf_offdie(dw, off + header, &cu) && dwarf_child(&cu, &die) == 0) {
      do {
        if (dwarf_tag(&die) != DW_TAG_structure_type) continue;
        const char* name = dwarf_diename(&die);
        if (!name || !wanted.contains(name) || out.contains(name)) continue;
        Members& members = out[name];
        Dwarf_Die m;
        if (dwarf_child(&die, &m) != 0) continue;
        do {
          Dwarf_Attribute attr;
          Dwarf_Word at = 0;
          const char* mname = dwarf_diename(&m);
          if (dwarf_tag(&m) == DW_TAG_member && mname && dwarf_attr(&m, DW_AT_data_member_location, &attr) &&
              dwarf_formudata(&attr, &at) == 0)
            members[mname] = at;
        } while (dwarf_siblingof(&m, &m) == 0);
      } while (dwarf_siblingof(&die, &die) == 0);
    }
    off = next;
  }
  return out;
}

}  // namespace

std::optional<sw_go_offsets> conn_layout_from_dwarf(int fd) {
  std::unique_ptr<Dwarf, DwarfEnd> dw(dwarf_begin(fd, DWARF_C_READ));
  if (!dw) return std::nullopt;
  // struct -> the member whose offset is needed
  const std::map<std::string, std::string> wanted = {{"crypto/tls.Conn", "conn"},
                                                     {"net.TCPConn", "conn"},
                                                     {"net.conn", "fd"},
                                                     {"net.netFD", "pfd"},
                                                     {"internal/poll.FD", "Sysfd"},
                                                     // net/http's bundled HTTP/2 server (optional)
                                                     {"net/http.http2serverConn", "conn"},
                                                     {"net/http.http2responseWriter", "rws"},
                                                     {"net/http.http2responseWriterState", "stream"},
                                                     {"net/http.http2stream", "id"}};
  const auto found = struct_members(dw.get(), wanted);
  auto at = [&](const std::string& s) -> std::optional<uint64_t> {
    auto it = found.find(s);
    if (it == found.end()) return std::nullopt;
    auto m = it->second.find(wanted.at(s));
    return m == it->second.end() ? std::nullopt : std::optional(m->second);
  };
  const auto conn = at("crypto/tls.Conn"), tcp = at("net.TCPConn"), fdfield = at("net.conn"),
             pfd = at("net.netFD"), sysfd = at("internal/poll.FD");
  if (!conn || !tcp || !fdfield || !pfd || !sysfd) return std::nullopt;
  sw_go_offsets o{};
  o.conn_iface = static_cast<uint32_t>(*conn);
  o.tcpconn_fd = static_cast<uint32_t>(*tcp + *fdfield);
  o.netfd_sysfd = static_cast<uint32_t>(*pfd + *sysfd);
  const auto sc_conn = at("net/http.http2serverConn"), rws = at("net/http.http2responseWriter"),
             stream = at("net/http.http2responseWriterState"), id = at("net/http.http2stream");
  if (sc_conn && rws && stream && id) {
    o.h2_known = 1;
    o.h2sc_conn = static_cast<uint32_t>(*sc_conn);
    o.h2rw_rws = static_cast<uint32_t>(*rws);
    o.h2rws_stream = static_cast<uint32_t>(*stream);
    o.h2stream_id = static_cast<uint32_t>(*id);
  }
  return o;
}

sw_go_offsets assumed_conn_layout() {
  sw_go_offsets o{};
  o.conn_iface = 0;
  o.tcpconn_fd = 0;
  o.netfd_sysfd = 16;
  return o;
}

}  // namespace spanwire::tls
