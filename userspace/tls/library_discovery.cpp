#include "tls/library_discovery.h"

#include "tls/go_tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <unordered_map>

#include "util/proc_file.h"
#include "common/text.h"

namespace spanwire::tls {

namespace {

namespace fs = std::filesystem;

// Big processes (JVMs, browsers) have maps files of several hundred KiB.
constexpr size_t kMapsMaxBytes = 4u << 20;

// The next space-separated field of a maps line, consumed from line.
std::string_view next_field(std::string_view& line) {
  const size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) return line = {};
  line.remove_prefix(start);
  const size_t end = std::min(line.find(' '), line.size());
  std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

// Only regular files: a device or FIFO in a container's root is not a library.
std::optional<FileKey> regular_file_key(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileKey{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

// read_proc_file gives "" for gone, refused and really empty alike; tell them apart.
std::string empty_maps_reason(const std::string& pid_dir) {
  const std::string maps = pid_dir + "/maps";
  int fd = open(maps.c_str(), O_RDONLY | O_CLOEXEC);
  int err = errno;
  if (fd >= 0) {
    char c;
    const ssize_t n = read(fd, &c, 1);
    err = errno;
    close(fd);
    if (n >= 0) return "kernel thread";  // no address space to map anything into
  }
  if (access(pid_dir.c_str(), F_OK) != 0) return "process exited";
  return "maps not readable: " + std::system_category().message(err);
}

void add_unique(std::vector<FileKey>& keys, const FileKey& key) {
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
}

std::optional<uint32_t> parse_pid(std::string_view name) {
  uint32_t pid = 0;
  if (!parse_whole(name, pid)) return std::nullopt;
  return pid;
}

}  // namespace

std::vector<Mapping> parse_maps(std::string_view text) {
  std::vector<Mapping> out;
  std::unordered_map<std::string_view, size_t> index;  // views into text
  while (!text.empty()) {
    const size_t eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));

    next_field(line);  // address range
    const std::string_view perms = next_field(line);
    next_field(line);  // offset
    next_field(line);  // device
    const std::string_view inode_field = next_field(line);
    // The path is the rest of the line after the padding; it may contain spaces.
    const size_t start = line.find_first_not_of(' ');
    const std::string_view path = start == std::string_view::npos ? std::string_view{} : line.substr(start);
    // Not starting with '/': anonymous, "[heap]", "[vdso]", "anon_inode:..." and the like.
    if (path.empty() || path.front() != '/' || path.ends_with(" (deleted)")) continue;

    const bool exec = perms.size() >= 3 && perms[2] == 'x';
    auto [it, inserted] = index.try_emplace(path, out.size());
    if (inserted) {
      uint64_t inode = 0;
      std::from_chars(inode_field.data(), inode_field.data() + inode_field.size(), inode);
      out.push_back(Mapping{std::string(path), inode, exec});
    } else if (exec) {
      out[it->second].executable = true;
    }
  }
  return out;
}

namespace {
// "<prefix>" or "<prefix>.<version>".
bool named(std::string_view base, std::string_view prefix) {
  return base.starts_with(prefix) && (base.size() == prefix.size() || base[prefix.size()] == '.');
}
}  // namespace

bool is_tls_library_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return named(base, "libssl.so") || named(base, "libgnutls.so");
}

const char* describe(LibraryKind kind) {
  switch (kind) {
    case LibraryKind::kSharedLibssl: return "OpenSSL libssl";
    case LibraryKind::kSharedGnutls: return "GnuTLS libgnutls";
    case LibraryKind::kStaticInExecutable: return "TLS symbols in executable";
    case LibraryKind::kGoExecutable: return "Go crypto/tls";
  }
  return "";
}

namespace {
LibraryKind shared_kind(const SslSymbols& s) {
  return s.openssl() ? LibraryKind::kSharedLibssl : LibraryKind::kSharedGnutls;
}
}  // namespace

Discovery::Discovery(std::string proc_root) : proc_root_(std::move(proc_root)) {}

const std::optional<ElfInfo>& Discovery::elf_info(const FileKey& key, const std::string& open_path) {
  auto it = elf_cache_.find(key);
  if (it == elf_cache_.end()) it = elf_cache_.emplace(key, read_elf_info(open_path)).first;
  return it->second;
}

std::optional<FileKey> Discovery::check_shared(const std::string& pid_dir, const std::string& path,
                                               std::string* why_not) {
  // Through the process's own root, so a container's library resolves to its file.
  const std::string open_path = pid_dir + "/root" + path;
  const auto key = regular_file_key(open_path);
  if (key && libraries_.contains(*key)) return key;
  const std::optional<ElfInfo>* info = key ? &elf_info(*key, open_path) : nullptr;
  if (!info || !*info) {
    *why_not = "TLS library mapped but not readable: " + path;
    return std::nullopt;
  }
  if (!(*info)->ssl.hookable()) {
    *why_not = "TLS library without SSL_read/SSL_write or gnutls_record_recv/send symbols: " + path;
    return std::nullopt;
  }
  libraries_.emplace(*key, Library{*key, path, open_path, shared_kind((*info)->ssl), (*info)->ssl});
  return key;
}

Library Discovery::executable_library(const FileKey& key, const std::string& pid_dir,
                                      const std::vector<Mapping>& maps, LibraryKind kind) const {
  // The executable's own mapping gives its path as the process sees it, and
  // an open path that does not depend on /proc/PID/exe's symlink semantics.
  const std::string exe = pid_dir + "/exe";
  Library lib{key, {}, exe, kind, {}, nullptr};
  for (const Mapping& m : maps) {
    if (regular_file_key(pid_dir + "/root" + m.path) == key) {
      lib.path = m.path;
      lib.open_path = pid_dir + "/root" + m.path;
      break;
    }
  }
  if (lib.path.empty()) {
    std::error_code ec;
    lib.path = fs::read_symlink(exe, ec).string();
  }
  return lib;
}

bool Discovery::check_go(const FileKey& key, const std::string& exe, std::string* why_not) {
  auto it = go_infos_.find(key);
  if (it == go_infos_.end()) {
    std::string error;
    std::optional<GoTlsInfo> go = read_go_tls(exe, &error);
    if (!go) go_errors_[key] = "Go executable: " + error;
    it = go_infos_.emplace(key, go ? std::make_shared<const GoTlsInfo>(std::move(*go)) : nullptr).first;
  }
  if (!it->second) {
    *why_not = go_errors_[key];
    return false;
  }
  if (!it->second->hookable()) {
    *why_not = describe(*it->second);
    return false;
  }
  return true;
}

void Discovery::check_executable(const std::string& pid_dir, const std::vector<Mapping>& maps,
                                 ProcessReport& report) {
  const std::string exe = pid_dir + "/exe";
  const auto key = regular_file_key(exe);
  if (!key) return;
  const std::optional<ElfInfo>& info = elf_info(*key, exe);
  if (!info) return;
  // Checked before "Go": a cgo program may link OpenSSL in, and then it is hookable.
  if (info->ssl.hookable()) {
    if (!libraries_.contains(*key)) {
      Library lib = executable_library(*key, pid_dir, maps, LibraryKind::kStaticInExecutable);
      lib.symbols = info->ssl;
      libraries_.emplace(*key, std::move(lib));
    }
    add_unique(report.libraries, *key);
  } else if (info->go) {
    if (!check_go(*key, exe, &report.why_not)) return;
    if (!libraries_.contains(*key)) {
      Library lib = executable_library(*key, pid_dir, maps, LibraryKind::kGoExecutable);
      lib.go = go_infos_.at(*key);
      libraries_.emplace(*key, std::move(lib));
    }
    add_unique(report.libraries, *key);
  }
}

ProcessReport Discovery::scan(uint32_t pid) {
  ProcessReport report;
  report.pid = pid;
  const std::string dir = proc_root_ + "/" + std::to_string(pid);
  report.comm = read_proc_file(dir + "/comm");
  if (!report.comm.empty() && report.comm.back() == '\n') report.comm.pop_back();

  const std::string text = read_proc_file(dir + "/maps", kMapsMaxBytes);
  if (text.empty()) {
    report.why_not = empty_maps_reason(dir);
    return report;
  }
  const std::vector<Mapping> maps = parse_maps(text);
  bool maps_libssl = false;
  for (const Mapping& m : maps) {
    if (!is_tls_library_name(m.path)) continue;
    maps_libssl = true;
    std::string reason;
    if (auto key = check_shared(dir, m.path, &reason)) add_unique(report.libraries, *key);
    else if (report.why_not.empty()) report.why_not = reason;
  }
  if (!maps_libssl) check_executable(dir, maps, report);

  if (!report.libraries.empty()) report.why_not.clear();
  else if (report.why_not.empty()) report.why_not = "no TLS library mapped";
  return report;
}

std::vector<ProcessReport> Discovery::scan_all() {
  std::vector<uint32_t> pids;
  std::error_code ec;
  for (fs::directory_iterator it(proc_root_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto pid = parse_pid(it->path().filename().native());
    std::error_code type_ec;
    if (pid && it->is_directory(type_ec)) pids.push_back(*pid);
  }
  std::sort(pids.begin(), pids.end());
  std::vector<ProcessReport> out;
  out.reserve(pids.size());
  for (uint32_t pid : pids) out.push_back(scan(pid));
  return out;
}

std::vector<FileKey> Discovery::scan_system_libraries(const std::string& host_root) {
  static constexpr std::array<std::string_view, 7> kDirs = {
      "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64",
      "/usr/lib",                  "/usr/local/lib",        "/usr/local/lib64"};
  std::string root = host_root;
  while (!root.empty() && root.back() == '/') root.pop_back();

  std::vector<FileKey> found;
  for (std::string_view dir : kDirs) {
    const std::string host_dir = root + std::string(dir);
    // Real files before symlinks, then by name, so a library is named by its
    // own file (libssl.so.3) rather than the dev symlink (libssl.so).
    std::vector<std::pair<bool, std::string>> names;
    std::error_code ec;
    for (fs::directory_iterator it(host_dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      std::error_code link_ec;
      if (is_tls_library_name(name)) names.emplace_back(it->is_symlink(link_ec), std::move(name));
    }
    std::sort(names.begin(), names.end());
    for (const auto& [is_link, name] : names) {
      const std::string open_path = host_dir + "/" + name;
      const auto key = regular_file_key(open_path);
      if (!key) continue;
      if (!libraries_.contains(*key)) {
        const std::optional<ElfInfo>& info = elf_info(*key, open_path);
        if (!info || !info->ssl.hookable()) continue;
        libraries_.emplace(*key, Library{*key, std::string(dir) + "/" + name, open_path,
                                         shared_kind(info->ssl), info->ssl});
      }
      add_unique(found, *key);
    }
  }
  return found;
}

}  // namespace spanwire::tls
