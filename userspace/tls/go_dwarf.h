// Where a Go binary's *crypto/tls.Conn keeps its socket descriptor, read
// from the binary's DWARF with libdw (see struct sw_go_offsets).
#pragma once

#include <optional>

#include <linux/types.h>

#include "spanwire.h"

namespace spanwire::tls {

// The offsets from the DWARF of the ELF file behind fd (tcpconn_itab left 0);
// nullopt when it has no DWARF (built with -ldflags=-w) or lacks a struct of
// the socket path. The HTTP/2 server's (h2_known) are filled when present.
std::optional<sw_go_offsets> conn_layout_from_dwarf(int fd);

// The layout every Go release since 1.12 has had (crypto/tls.Conn.conn,
// net.conn.fd and net.netFD.pfd first; poll.FD.Sysfd after fdMutex's 16 bytes).
sw_go_offsets assumed_conn_layout();

}  // namespace spanwire::tls
