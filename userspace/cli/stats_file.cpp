#include "cli/stats_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

namespace spanwire {

std::string write_stats_file(const std::string& path, const Metrics& metrics) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return "cannot open " + tmp + ": " + std::strerror(errno);
    out << metrics.to_json().dump() << '\n';
    out.close();
    if (!out) return "cannot write " + tmp + ": " + std::strerror(errno);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return error;
  }
  return {};
}

}  // namespace spanwire
