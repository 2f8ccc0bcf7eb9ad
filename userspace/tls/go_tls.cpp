#include "tls/go_tls.h"

#include <capstone/capstone.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "util/unique_fd.h"

namespace spanwire::tls {

namespace {

constexpr std::string_view kReadSymbol = "crypto/tls.(*Conn).Read";
constexpr std::string_view kWriteSymbol = "crypto/tls.(*Conn).Write";

struct ElfEnd {
  void operator()(Elf* elf) const { elf_end(elf); }
};
// A Capstone x86-64 handle and one instruction buffer, released together.
class Disassembler {
 public:
  Disassembler() {
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) == CS_ERR_OK) insn_ = cs_malloc(handle_);
  }
  ~Disassembler() {
    if (insn_) cs_free(insn_, 1);
    if (handle_) cs_close(&handle_);
  }
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;
  // The next instruction at *code, advancing it; nullptr at the end or at bytes it cannot decode.
  const cs_insn* next(const uint8_t** code, size_t* left, uint64_t* address) {
    return insn_ && cs_disasm_iter(handle_, code, left, address, insn_) ? insn_ : nullptr;
  }

 private:
  csh handle_ = 0;
  cs_insn* insn_ = nullptr;
};

std::optional<GoTlsInfo> fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

// Reads bytes [offset, offset + n) of the file behind fd.
std::vector<uint8_t> read_at(int fd, uint64_t offset, uint64_t n) {
  std::vector<uint8_t> out(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = pread(fd, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

struct Section {
  uint64_t addr = 0, offset = 0, size = 0;
  bool contains(uint64_t a) const { return a >= addr && a < addr + size; }
};

}  // namespace

std::vector<uint64_t> ret_addresses(std::span<const uint8_t> code, uint64_t address) {
  std::vector<uint64_t> out;
  Disassembler d;
  const uint8_t* bytes = code.data();
  size_t left = code.size();
  uint64_t at = address;
  // Decoding stops at bytes Capstone cannot decode (data in text): what was
  // decoded before stays, and the caller sees fewer RETs, never wrong ones.
  while (const cs_insn* insn = d.next(&bytes, &left, &at)) {
    if (insn->id == X86_INS_RET) out.push_back(insn->address);
  }
  return out;
}

std::string go_version_of_buildinfo(std::span<const uint8_t> s) {
  // Header: "\xff Go buildinf:" (14 bytes), pointer size, flags; from Go 1.18
  // flag 0x2 says the version follows at byte 32 as a uvarint-prefixed string.
  static constexpr std::string_view kMagic = "\xff Go buildinf:";
  if (s.size() < 33 || std::string_view(reinterpret_cast<const char*>(s.data()), kMagic.size()) != kMagic) return {};
  if ((s[15] & 0x2) == 0) return {};
  uint64_t len = 0;
  size_t i = 32;
  for (int shift = 0; i < s.size() && shift < 64; shift += 7) {
    const uint8_t b = s[i++];
    len |= uint64_t(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (len == 0 || len > 64 || i + len > s.size()) return {};
  return std::string(reinterpret_cast<const char*>(s.data() + i), len);
}

std::optional<GoTlsInfo> read_go_tls(const std::string& path, std::string* error) {
  if (elf_version(EV_CURRENT) == EV_NONE) return fail(error, "libelf: " + std::string(elf_errmsg(-1)));
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return fail(error, path + ": " + std::system_category().message(errno));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(error, path + ": not a regular file");
  std::unique_ptr<Elf, ElfEnd> elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return fail(error, path + ": not an ELF file");
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) return fail(error, path + ": " + elf_errmsg(-1));

  GoTlsInfo info;
  bool go = false, has_symtab = false;
  std::vector<Section> sections;
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr)) continue;
    const char* name = elf_strptr(elf.get(), shstrndx, shdr.sh_name);
    if (shdr.sh_type != SHT_NOBITS) sections.push_back({shdr.sh_addr, shdr.sh_offset, shdr.sh_size});
    if (name && std::string_view(name) == ".go.buildinfo") {
      go = true;
      info.go_version = go_version_of_buildinfo(read_at(fd.get(), shdr.sh_offset, std::min<uint64_t>(shdr.sh_size, 256)));
    }
    if (shdr.sh_type != SHT_SYMTAB) continue;
    has_symtab = true;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || shdr.sh_entsize == 0) continue;
    for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC) continue;
      const char* sname = elf_strptr(elf.get(), shdr.sh_link, sym.st_name);
      if (!sname) continue;
      const std::string_view n(sname);
      if (n == kReadSymbol) info.read = GoFunction{std::string(n), sym.st_value, sym.st_size, 0, {}};
      else if (n == kWriteSymbol) info.write = GoFunction{std::string(n), sym.st_value, sym.st_size, 0, {}};
    }
  }
  if (!go) return fail(error, path + ": not a Go executable (no .go.buildinfo section)");

  for (std::optional<GoFunction>* f : {&info.read, &info.write}) {
    if (!*f) continue;
    GoFunction& fn = **f;
    for (const Section& s : sections) {
      if (!s.contains(fn.address)) continue;
      fn.file_offset = fn.address - s.addr + s.offset;
      const std::vector<uint8_t> code = read_at(fd.get(), fn.file_offset, fn.size);
      for (uint64_t ret : ret_addresses(code, fn.address)) fn.ret_offsets.push_back(ret - fn.address + fn.file_offset);
      break;
    }
  }
  if (!has_symtab)
    info.why_not = "stripped (no .symtab): finding crypto/tls through .gopclntab is not implemented yet";
  else if (!info.read && !info.write)
    info.why_not = "no crypto/tls.(*Conn).Read or Write in its symbol table (it reads and writes no TLS connection)";
  else if (!info.read || !info.write || info.read->ret_offsets.empty() || info.write->ret_offsets.empty())
    info.why_not = "crypto/tls found, but its Read/Write entry or return instructions were not";
  return info;
}

std::string describe(const GoTlsInfo& info) {
  const std::string version = info.go_version.empty() ? "Go (version not recorded)" : info.go_version;
  if (!info.why_not.empty()) return fmt::format("Go executable ({}): {}", version, info.why_not);
  return fmt::format("Go executable ({}): crypto/tls Read ({} returns) and Write ({} returns) found; their probes "
                     "are not attached yet",
                     version, info.read->ret_offsets.size(), info.write->ret_offsets.size());
}

}  // namespace spanwire::tls
