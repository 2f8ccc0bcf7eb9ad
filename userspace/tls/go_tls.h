// What a Go executable offers to spanwire's Go probes (bpf/go_hooks.bpf.h):
// its Go version (from the build info); the functions that carry plaintext,
// crypto/tls.(*Conn).Read and Write; the ones that tie goroutines to the
// requests they work for (runtime.newproc1, net/http's Transport.roundTrip
// and Request.write); and where a tls.Conn keeps its socket.
//
// Functions come from .symtab, or from Go's own function table (.gopclntab,
// Go 1.18+ layout) when the binary is stripped. Go's growable stacks forbid
// uretprobes (the runtime copies a stack and the return address the kernel
// planted on it goes stale), so the return side of a call is a uprobe on each
// RET, found by disassembling the function with Capstone. Struct offsets come
// from DWARF (libdw), or, without DWARF, are the layout Go has kept since 1.12.
// Supported: amd64, Go 1.18+ (register ABI, inline build-info version).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <linux/types.h>

#include "spanwire.h"

namespace spanwire::tls {

struct GoFunction {
  std::string name;
  uint64_t address = 0;              // virtual address
  uint64_t size = 0;
  uint64_t file_offset = 0;          // where an entry uprobe attaches
  std::vector<uint64_t> ret_offsets;  // file offsets of its RET instructions
};

// Where the socket of a *tls.Conn is (see struct sw_go_offsets).
struct GoConnLayout {
  sw_go_offsets offsets{};
  bool from_dwarf = false;  // false: Go's long-standing layout, assumed
};

struct GoTlsInfo {
  std::string go_version;  // "go1.19.8"; empty when the build info is of a form not read (before Go 1.18)
  std::optional<GoFunction> read, write;                          // crypto/tls.(*Conn).Read/Write, with RETs
  std::optional<GoFunction> newproc, round_trip, request_write;   // goroutine causality (newproc with RETs)
  std::optional<GoFunction> h2_run_handler;  // net/http's HTTP/2 server starting a stream's handler
  GoConnLayout layout;
  bool stripped = false;  // no .symtab: functions from .gopclntab
  bool pie = false;       // position-independent: the connection's type is not checked
  // Empty when Read and Write can be hooked (entries and RETs found);
  // otherwise one line saying what is missing.
  std::string why_not;
  bool hookable() const { return why_not.empty(); }
};

// Reads a Go executable; nullopt (and *error) when it cannot be read or is not Go.
std::optional<GoTlsInfo> read_go_tls(const std::string& path, std::string* error = nullptr);

// The addresses of every RET in x86-64 machine code that starts at `address`.
std::vector<uint64_t> ret_addresses(std::span<const uint8_t> code, uint64_t address);

// The Go version in a .go.buildinfo section (Go 1.18+ layout), or empty.
std::string go_version_of_buildinfo(std::span<const uint8_t> section);

// A function named in a .gopclntab section (Go 1.18+ layout) whose section
// starts at virtual address pclntab_addr; text_addr is .text's address (used
// when the table does not record it). nullopt when absent or not that layout.
struct GoPclnFunction {
  uint64_t address = 0, size = 0;
};
std::optional<GoPclnFunction> find_in_pclntab(std::span<const uint8_t> pclntab, uint64_t text_addr,
                                              std::string_view name);

// One line for `spanwire doctor` about a Go executable.
std::string describe(const GoTlsInfo& info);

}  // namespace spanwire::tls
