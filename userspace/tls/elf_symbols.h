// What an ELF file offers to TLS uprobes: the OpenSSL entry points it defines
// (a shared libssl, or an executable with OpenSSL/BoringSSL linked in), the
// GnuTLS record functions (libgnutls), and whether it is a Go program, whose
// crypto/tls needs different probes.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace spanwire::tls {

// The TLS entry points spanwire hooks, as defined (not imported) by one ELF
// file: OpenSSL's, and GnuTLS's gnutls_record_recv/send, which take the same
// arguments as SSL_read/SSL_write (session, buffer, size) and return the
// byte count, so the same probes serve both.
struct SslSymbols {
  bool ssl_read = false, ssl_write = false, ssl_read_ex = false, ssl_write_ex = false, ssl_set_fd = false;
  bool gnutls_recv = false, gnutls_send = false;
  bool openssl() const { return ssl_read && ssl_write; }
  bool gnutls() const { return gnutls_recv && gnutls_send; }
  bool hookable() const { return openssl() || gnutls(); }
  std::vector<std::string> names() const;  // the present ones, e.g. {"SSL_read", "SSL_write", ...}
};

struct ElfInfo {
  SslSymbols ssl;
  bool go = false;  // a Go executable (has a ".go.buildinfo" section): crypto/tls, not OpenSSL
};

// Reads .dynsym and .symtab. A symbol counts when it is a defined function
// (STT_FUNC or STT_GNU_IFUNC) named exactly SSL_read, SSL_write, SSL_read_ex,
// SSL_write_ex, SSL_set_fd, gnutls_record_recv or gnutls_record_send,
// ignoring any "@VERSION" suffix. nullopt, with
// *error set to one short line, when the file cannot be opened or is not ELF.
std::optional<ElfInfo> read_elf_info(const std::string& path, std::string* error = nullptr);

}  // namespace spanwire::tls
