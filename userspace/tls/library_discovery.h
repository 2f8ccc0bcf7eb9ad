// Finds the TLS libraries that spanwire can hook with uprobes: OpenSSL's
// libssl mapped by running processes (also inside containers, through
// /proc/PID/root), OpenSSL/BoringSSL linked into executables (Node.js, Envoy),
// and libssl installed on the host. A uprobe belongs to a file (an inode), not
// a path, so libraries are identified by (dev, inode).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/elf_symbols.h"
#include "tls/go_tls.h"

namespace spanwire::tls {

// Identity of a file on this host: the same (dev, inode) is the same library,
// whatever path or mount namespace it is seen through.
struct FileKey {
  uint64_t dev = 0;
  uint64_t inode = 0;
  auto operator<=>(const FileKey&) const = default;
};

// One distinct file-backed mapping of /proc/PID/maps.
struct Mapping {
  std::string path;         // as the process sees it (its own mount namespace)
  uint64_t inode = 0;       // from the maps line
  bool executable = false;  // some mapping of this path has 'x' permission
};
// Distinct file paths in a maps text (one entry per path, in first-seen order), skipping
// anonymous mappings, pseudo paths ("[heap]", "[vdso]"...) and " (deleted)" files.
std::vector<Mapping> parse_maps(std::string_view text);

// A shared TLS library spanwire hooks, by its basename: OpenSSL's libssl (1.1
// and 3.x: libssl.so.3, libssl.so.1.1; NOT NSS's libssl3.so) or GnuTLS's
// libgnutls (libgnutls.so.30; not libgnutls-openssl.so, its compatibility shim).
bool is_tls_library_name(std::string_view path);

enum class LibraryKind { kSharedLibssl, kStaticInExecutable, kSharedGnutls, kGoExecutable };
const char* describe(LibraryKind kind);

struct Library {
  FileKey key;            // from stat(open_path)
  std::string path;       // as the first process that maps it sees it
  std::string open_path;  // openable by the sensor: <proc_root>/<pid>/root<path>, or a host path
  LibraryKind kind = LibraryKind::kSharedLibssl;
  SslSymbols symbols;
  std::shared_ptr<const GoTlsInfo> go;  // kGoExecutable: what its Go probes attach to
};

// What a scan found for one process.
struct ProcessReport {
  uint32_t pid = 0;
  std::string comm;                // from <proc_root>/<pid>/comm, trailing newline removed
  std::vector<FileKey> libraries;  // TLS libraries (keys into Discovery::libraries()) it maps or embeds
  std::string why_not;             // empty when libraries is non-empty; otherwise one short reason
};

class Discovery {
 public:
  // proc_root: "/proc" in production, a fixture directory in tests.
  explicit Discovery(std::string proc_root = "/proc");
  // One process: its libssl mappings, or if it maps none, its executable
  // (statically linked OpenSSL/BoringSSL). Each ELF file is parsed once.
  ProcessReport scan(uint32_t pid);
  // Every numeric directory of proc_root, in pid order (the caller filters out itself).
  std::vector<ProcessReport> scan_all();
  // Hookable libssl files in the standard library directories under host_root
  // (non-recursive, symlinks followed), deduplicated by key.
  std::vector<FileKey> scan_system_libraries(const std::string& host_root = "/");
  // Every library found so far; deduplicated by key (the first path found wins).
  const std::map<FileKey, Library>& libraries() const { return libraries_; }

 private:
  const std::optional<ElfInfo>& elf_info(const FileKey& key, const std::string& open_path);
  // A libssl mapping: its key once known hookable, else nullopt and *why_not.
  std::optional<FileKey> check_shared(const std::string& pid_dir, const std::string& path, std::string* why_not);
  // The executable, for OpenSSL linked into it; fills report.libraries or why_not.
  void check_executable(const std::string& pid_dir, const std::vector<Mapping>& maps, ProcessReport& report);
  // A Go executable: hookable (added to libraries_) or *why_not.
  bool check_go(const FileKey& key, const std::string& exe, std::string* why_not);
  // The executable as a library: its path as the process sees it, and a path the sensor can open.
  Library executable_library(const FileKey& key, const std::string& pid_dir, const std::vector<Mapping>& maps,
                             LibraryKind kind) const;

  std::string proc_root_;
  std::map<FileKey, Library> libraries_;
  // Parse results (nullopt: not readable ELF) by file, including unhookable
  // ones, so a host full of the same program pays one parse.
  std::map<FileKey, std::optional<ElfInfo>> elf_cache_;
  // What each Go executable offers the Go probes (read once per file; null: not readable).
  std::map<FileKey, std::shared_ptr<const GoTlsInfo>> go_infos_;
  std::map<FileKey, std::string> go_errors_;
};

}  // namespace spanwire::tls
