#include "tls/elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string_view>
#include <system_error>

#include "util/unique_fd.h"

namespace spanwire::tls {

namespace {

struct ElfEnd {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfEnd>;

bool libelf_ready() {
  // libelf refuses every call until the application states its ELF version.
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

std::optional<ElfInfo> fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

void note_symbol(SslSymbols& s, std::string_view name) {
  // .symtab of a static build may carry "SSL_read@@OPENSSL_3.0.0".
  name = name.substr(0, name.find('@'));
  if (name == "SSL_read") s.ssl_read = true;
  else if (name == "SSL_write") s.ssl_write = true;
  else if (name == "SSL_read_ex") s.ssl_read_ex = true;
  else if (name == "SSL_write_ex") s.ssl_write_ex = true;
  else if (name == "SSL_set_fd") s.ssl_set_fd = true;
  else if (name == "gnutls_record_recv") s.gnutls_recv = true;
  else if (name == "gnutls_record_send") s.gnutls_send = true;
}

void scan_symbol_table(Elf* elf, Elf_Scn* scn, const GElf_Shdr& shdr, SslSymbols& out) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (!data || shdr.sh_entsize == 0) return;
  const size_t count = shdr.sh_size / shdr.sh_entsize;
  for (size_t i = 0; i < count; ++i) {
    GElf_Sym sym;
    if (!gelf_getsym(data, static_cast<int>(i), &sym)) break;
    // Undefined entries are imports: a program calling SSL_read through libssl
    // must not be mistaken for one that contains it.
    if (sym.st_shndx == SHN_UNDEF) continue;
    const int type = GELF_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
    if (const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name)) note_symbol(out, name);
  }
}

}  // namespace

std::vector<std::string> SslSymbols::names() const {
  std::vector<std::string> out;
  if (ssl_read) out.emplace_back("SSL_read");
  if (ssl_write) out.emplace_back("SSL_write");
  if (ssl_read_ex) out.emplace_back("SSL_read_ex");
  if (ssl_write_ex) out.emplace_back("SSL_write_ex");
  if (ssl_set_fd) out.emplace_back("SSL_set_fd");
  if (gnutls_recv) out.emplace_back("gnutls_record_recv");
  if (gnutls_send) out.emplace_back("gnutls_record_send");
  return out;
}

std::optional<ElfInfo> read_elf_info(const std::string& path, std::string* error) {
  if (!libelf_ready()) return fail(error, "libelf: " + std::string(elf_errmsg(-1)));
  // O_NONBLOCK: a FIFO planted where a library is expected must not hang the scan.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return fail(error, path + ": " + std::system_category().message(errno));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(error, path + ": not a regular file");

  ElfPtr elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return fail(error, path + ": not an ELF file");
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) return fail(error, path + ": " + elf_errmsg(-1));

  ElfInfo info;
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr)) continue;
    if (shdr.sh_type == SHT_DYNSYM || shdr.sh_type == SHT_SYMTAB) scan_symbol_table(elf.get(), scn, shdr, info.ssl);
    const char* name = elf_strptr(elf.get(), shstrndx, shdr.sh_name);
    if (name && std::string_view(name) == ".go.buildinfo") info.go = true;
  }
  return info;
}

}  // namespace spanwire::tls
