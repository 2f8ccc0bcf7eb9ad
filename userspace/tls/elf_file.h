// An ELF file opened for reading with libelf: its descriptor and libelf
// handle, released together. Shared by the TLS symbol scan and the Go reader.
#pragma once

#include <gelf.h>
#include <libelf.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/unique_fd.h"

namespace spanwire::tls {

class ElfFile {
 public:
  // nullopt, with *error set to one short line, when path cannot be opened,
  // is not a regular file (O_NONBLOCK: a FIFO planted there must not hang a
  // scan) or is not ELF.
  static std::optional<ElfFile> open(const std::string& path, std::string* error);

  Elf* elf() const { return elf_.get(); }
  int fd() const { return fd_.get(); }
  // A section's name, or "" when it has none.
  std::string_view section_name(const GElf_Shdr& shdr) const;

 private:
  struct ElfEnd {
    void operator()(Elf* elf) const { elf_end(elf); }
  };
  UniqueFd fd_;  // declared first: the handle is released before its descriptor
  std::unique_ptr<Elf, ElfEnd> elf_;
  size_t shstrndx_ = 0;
};

}  // namespace spanwire::tls
