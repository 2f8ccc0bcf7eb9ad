#include "tls/elf_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <system_error>

namespace spanwire::tls {

namespace {
bool libelf_ready() {
  // libelf refuses every call until the application states its ELF version.
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

std::optional<ElfFile> fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}
}  // namespace

std::optional<ElfFile> ElfFile::open(const std::string& path, std::string* error) {
  if (!libelf_ready()) return fail(error, "libelf: " + std::string(elf_errmsg(-1)));
  ElfFile f;
  f.fd_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!f.fd_) return fail(error, path + ": " + std::system_category().message(errno));
  struct stat st {};
  if (fstat(f.fd_.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(error, path + ": not a regular file");
  f.elf_.reset(elf_begin(f.fd_.get(), ELF_C_READ_MMAP, nullptr));
  if (!f.elf_ || elf_kind(f.elf_.get()) != ELF_K_ELF) return fail(error, path + ": not an ELF file");
  if (elf_getshdrstrndx(f.elf_.get(), &f.shstrndx_) != 0) return fail(error, path + ": " + elf_errmsg(-1));
  return f;
}

std::string_view ElfFile::section_name(const GElf_Shdr& shdr) const {
  const char* name = elf_strptr(elf_.get(), shstrndx_, shdr.sh_name);
  return name ? name : "";
}

}  // namespace spanwire::tls
