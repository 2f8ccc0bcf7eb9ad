#include "util/proc_file.h"

#include <fcntl.h>
#include <unistd.h>

namespace spanwire {

std::string read_proc_file(const std::string& path, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[4096];
  while (out.size() < max_bytes) {
    ssize_t n = read(fd, buf, std::min(sizeof(buf), max_bytes - out.size()));
    if (n <= 0) break;  // end of file, or an error: keep what was read
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace spanwire
