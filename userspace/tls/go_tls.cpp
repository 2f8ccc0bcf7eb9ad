#include "tls/go_tls.h"

#include <capstone/capstone.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include "tls/elf_file.h"
#include "tls/go_dwarf.h"

namespace spanwire::tls {

namespace {

constexpr std::string_view kReadSymbol = "crypto/tls.(*Conn).Read";
constexpr std::string_view kWriteSymbol = "crypto/tls.(*Conn).Write";

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

std::optional<GoPclnFunction> find_in_pclntab(std::span<const uint8_t> t, uint64_t text_addr,
                                              std::string_view name) {
  // pcHeader: magic u32 (0xfffffff0: Go 1.18-1.19, 0xfffffff1: 1.20+), two
  // pad bytes, minLC, ptrSize, then nfunc, nfiles, textStart, funcnameOffset,
  // cuOffset, filetabOffset, pctabOffset, pclnOffset (ptrSize each). The
  // function table at pclnOffset is nfunc+1 (entryOff u32, funcOff u32)
  // pairs; a _func (at pclnOffset + funcOff) starts with entryOff u32, nameOff i32.
  auto u32 = [&](uint64_t at) -> std::optional<uint32_t> {
    if (at + 4 > t.size()) return std::nullopt;
    uint32_t v;
    std::memcpy(&v, t.data() + at, 4);
    return v;
  };
  auto word = [&](int i) -> std::optional<uint64_t> {
    if (8 + 8 * uint64_t(i) + 8 > t.size()) return std::nullopt;
    uint64_t v;
    std::memcpy(&v, t.data() + 8 + 8 * i, 8);
    return v;
  };
  const auto magic = u32(0);
  if (!magic || (*magic != 0xfffffff0u && *magic != 0xfffffff1u) || t[7] != 8) return std::nullopt;
  const auto nfunc = word(0), text_start = word(2), names = word(3), pcln = word(7);
  if (!nfunc || !text_start || !names || !pcln || *nfunc > (1u << 24)) return std::nullopt;
  const uint64_t text = *text_start != 0 ? *text_start : text_addr;
  for (uint64_t i = 0; i < *nfunc; ++i) {
    const auto entry = u32(*pcln + 8 * i), func = u32(*pcln + 8 * i + 4), next = u32(*pcln + 8 * (i + 1));
    if (!entry || !func || !next) return std::nullopt;
    const auto name_off = u32(*pcln + *func + 4);
    if (!name_off) continue;
    const uint64_t at = *names + *name_off;
    if (at + name.size() + 1 > t.size()) continue;
    if (std::memcmp(t.data() + at, name.data(), name.size()) != 0 || t[at + name.size()] != 0) continue;
    return GoPclnFunction{text + *entry, *next > *entry ? *next - *entry : 0};
  }
  return std::nullopt;
}

namespace {

constexpr std::string_view kNewprocSymbol = "runtime.newproc1";
constexpr std::string_view kRoundTripSymbol = "net/http.(*Transport).roundTrip";
constexpr std::string_view kRequestWriteSymbol = "net/http.(*Request).write";
constexpr std::string_view kRunHandlerSymbol = "net/http.(*http2serverConn).runHandler";
// The itab of (*net.TCPConn, net.Conn): "go.itab." before Go 1.20, "go:itab." after.
constexpr std::string_view kTcpConnItab[] = {"go.itab.*net.TCPConn,net.Conn", "go:itab.*net.TCPConn,net.Conn"};

std::optional<GoFunction>* slot_of(GoTlsInfo& info, std::string_view name) {
  if (name == kReadSymbol) return &info.read;
  if (name == kWriteSymbol) return &info.write;
  if (name == kNewprocSymbol) return &info.newproc;
  if (name == kRoundTripSymbol) return &info.round_trip;
  if (name == kRequestWriteSymbol) return &info.request_write;
  if (name == kRunHandlerSymbol) return &info.h2_run_handler;
  return nullptr;
}

// Fills the functions (and the itab address) from a .symtab section.
void read_symtab(Elf* elf, Elf_Scn* scn, const GElf_Shdr& shdr, GoTlsInfo& info) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (!data || shdr.sh_entsize == 0) return;
  for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; ++i) {
    GElf_Sym sym;
    if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
    const char* sname = elf_strptr(elf, shdr.sh_link, sym.st_name);
    if (!sname) continue;
    const std::string_view n(sname);
    if (GELF_ST_TYPE(sym.st_info) == STT_FUNC) {
      if (auto* slot = slot_of(info, n)) *slot = GoFunction{std::string(n), sym.st_value, sym.st_size, 0, {}};
    } else if (n == kTcpConnItab[0] || n == kTcpConnItab[1]) {
      info.layout.offsets.tcpconn_itab = sym.st_value;
    }
  }
}

// Finds each function's file offset and RETs (for the ones that need them).
void locate(int fd, const std::vector<Section>& sections, GoTlsInfo& info) {
  for (std::optional<GoFunction>* f :
       {&info.read, &info.write, &info.newproc, &info.round_trip, &info.request_write, &info.h2_run_handler}) {
    if (!*f) continue;
    GoFunction& fn = **f;
    for (const Section& s : sections) {
      if (!s.contains(fn.address)) continue;
      fn.file_offset = fn.address - s.addr + s.offset;
      if (f != &info.read && f != &info.newproc) break;  // entry probes only
      const std::vector<uint8_t> code = read_at(fd, fn.file_offset, fn.size);
      for (uint64_t ret : ret_addresses(code, fn.address)) fn.ret_offsets.push_back(ret - fn.address + fn.file_offset);
      break;
    }
  }
}

std::string missing_reason(const GoTlsInfo& info) {
  if (!info.read && !info.write)
    return info.stripped ? "stripped, and no crypto/tls.(*Conn).Read or Write in .gopclntab (no TLS, or Go before 1.18)"
                         : "no crypto/tls.(*Conn).Read or Write in its symbol table (it reads and writes no TLS "
                           "connection)";
  if (!info.read || !info.write || info.read->ret_offsets.empty())
    return "crypto/tls found, but its Write entry, or Read's entry or return instructions, were not";
  return {};
}

}  // namespace

std::optional<GoTlsInfo> read_go_tls(const std::string& path, std::string* error) {
  const std::optional<ElfFile> file = ElfFile::open(path, error);
  if (!file) return std::nullopt;
  Elf* elf = file->elf();
  const int fd = file->fd();
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(elf, &ehdr)) return fail(error, path + ": " + elf_errmsg(-1));

  GoTlsInfo info;
  info.pie = ehdr.e_type == ET_DYN;
  bool go = false, has_symtab = false;
  std::vector<Section> sections;
  Section pclntab, text;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr)) continue;
    const std::string_view name = file->section_name(shdr);
    if (shdr.sh_type != SHT_NOBITS) sections.push_back({shdr.sh_addr, shdr.sh_offset, shdr.sh_size});
    if (name == ".go.buildinfo") {
      go = true;
      info.go_version = go_version_of_buildinfo(read_at(fd, shdr.sh_offset, std::min<uint64_t>(shdr.sh_size, 256)));
    } else if (name == ".gopclntab") {
      pclntab = {shdr.sh_addr, shdr.sh_offset, shdr.sh_size};
    } else if (name == ".text") {
      text = {shdr.sh_addr, shdr.sh_offset, shdr.sh_size};
    } else if (shdr.sh_type == SHT_SYMTAB) {
      has_symtab = true;
      read_symtab(elf, scn, shdr, info);
    }
  }
  if (!go) return fail(error, path + ": not a Go executable (no .go.buildinfo section)");

  info.stripped = !has_symtab;
  if (info.stripped && pclntab.size > 0 && pclntab.size < (1ull << 31)) {
    const std::vector<uint8_t> table = read_at(fd, pclntab.offset, pclntab.size);
    for (std::string_view n :
         {kReadSymbol, kWriteSymbol, kNewprocSymbol, kRoundTripSymbol, kRequestWriteSymbol, kRunHandlerSymbol}) {
      if (auto f = find_in_pclntab(table, text.addr, n)) *slot_of(info, n) = GoFunction{std::string(n), f->address, f->size, 0, {}};
    }
  }
  locate(fd, sections, info);
  if (auto layout = conn_layout_from_dwarf(fd)) {
    const uint64_t itab = info.layout.offsets.tcpconn_itab;
    info.layout.offsets = *layout;
    info.layout.offsets.tcpconn_itab = itab;
    info.layout.from_dwarf = true;
  } else {
    const uint64_t itab = info.layout.offsets.tcpconn_itab;
    info.layout.offsets = assumed_conn_layout();
    info.layout.offsets.tcpconn_itab = itab;
  }
  // A PIE's itab moves with its load address, which differs per process.
  if (info.pie) info.layout.offsets.tcpconn_itab = 0;
  info.why_not = missing_reason(info);
  return info;
}

std::string describe(const GoTlsInfo& info) {
  const std::string version = info.go_version.empty() ? "Go (version not recorded)" : info.go_version;
  if (!info.hookable()) return fmt::format("Go executable ({}): {}", version, info.why_not);
  std::string causality = info.newproc && !info.newproc->ret_offsets.empty()
                              ? "goroutines followed from runtime.newproc1"
                              : "goroutines NOT followed (runtime.newproc1 not found)";
  if (info.round_trip && info.request_write) causality += ", net/http client requests tied to their callers";
  if (info.h2_run_handler)
    causality += info.layout.offsets.h2_known ? ", HTTP/2 server handlers tied to their streams"
                                              : ", HTTP/2 server handlers NOT tied to their streams (no DWARF)";
  return fmt::format("Go executable ({}{}): crypto/tls Read (entry and {} returns) and Write (entry) hooked; "
                     "socket offsets {}{}; {}",
                     version, info.stripped ? ", stripped: functions from .gopclntab" : "", info.read->ret_offsets.size(),
                     info.layout.from_dwarf ? "from DWARF" : "assumed (no DWARF; Go's layout since 1.12)",
                     info.layout.offsets.tcpconn_itab ? "" : ", connection type not checked", causality);
}

}  // namespace spanwire::tls
