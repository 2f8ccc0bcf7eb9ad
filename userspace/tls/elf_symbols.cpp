#include "tls/elf_symbols.h"

#include <gelf.h>
#include <libelf.h>

#include <string_view>

#include "tls/elf_file.h"

namespace spanwire::tls {

namespace {

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
  const std::optional<ElfFile> file = ElfFile::open(path, error);
  if (!file) return std::nullopt;
  ElfInfo info;
  for (Elf_Scn* scn = elf_nextscn(file->elf(), nullptr); scn; scn = elf_nextscn(file->elf(), scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr)) continue;
    if (shdr.sh_type == SHT_DYNSYM || shdr.sh_type == SHT_SYMTAB) scan_symbol_table(file->elf(), scn, shdr, info.ssl);
    if (file->section_name(shdr) == ".go.buildinfo") info.go = true;
  }
  return info;
}

}  // namespace spanwire::tls
