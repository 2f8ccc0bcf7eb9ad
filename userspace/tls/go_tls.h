// What a Go executable offers to crypto/tls probes: its Go version (from the
// build info) and the two functions that carry plaintext,
// crypto/tls.(*Conn).Read and Write, each with the file offsets of its entry
// and of every RET instruction. Go's growable stacks forbid uretprobes (the
// runtime copies a stack and the return address the kernel planted on it
// goes stale), so the return side of a call is a uprobe on each RET, found
// by disassembling the function with Capstone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spanwire::tls {

struct GoFunction {
  std::string name;
  uint64_t address = 0;              // virtual address, from .symtab
  uint64_t size = 0;
  uint64_t file_offset = 0;          // where an entry uprobe attaches
  std::vector<uint64_t> ret_offsets;  // file offsets of its RET instructions
};

struct GoTlsInfo {
  std::string go_version;  // "go1.19.8"; empty when the build info is of a form not read (before Go 1.18)
  std::optional<GoFunction> read, write;
  // Empty when both functions were found with at least one RET each;
  // otherwise one line saying what is missing (stripped, no crypto/tls, ...).
  std::string why_not;
};

// Reads a Go executable; nullopt (and *error) when it cannot be read or is not Go.
std::optional<GoTlsInfo> read_go_tls(const std::string& path, std::string* error = nullptr);

// The addresses of every RET in x86-64 machine code that starts at `address`.
std::vector<uint64_t> ret_addresses(std::span<const uint8_t> code, uint64_t address);

// The Go version in a .go.buildinfo section (Go 1.18+ layout), or empty.
std::string go_version_of_buildinfo(std::span<const uint8_t> section);

// One line for `spanwire doctor` about a Go executable.
std::string describe(const GoTlsInfo& info);

}  // namespace spanwire::tls
