// Reading /proc files safely: they can refuse reads (EPERM for other users'
// tasks, ESRCH when the task just exited), and std::ifstream turns a failed
// read into an exception whatever its exception mask. Here that is an empty
// string instead.
#pragma once

#include <cstddef>
#include <string>

namespace spanwire {

// Up to max_bytes of the file; empty when it cannot be read.
std::string read_proc_file(const std::string& path, size_t max_bytes = 4096);

}  // namespace spanwire
