#include "k8s/line_splitter.h"

namespace spanwire::k8s {

std::vector<std::string> LineSplitter::feed(std::string_view data) {
  std::vector<std::string> lines;
  if (overflowed_) return lines;
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    const std::string_view piece = data.substr(0, newline);
    if (partial_.size() + piece.size() > max_line_bytes_) {
      overflowed_ = true;
      partial_.clear();
      return lines;
    }
    partial_.append(piece);
    if (newline == std::string_view::npos) break;
    data.remove_prefix(newline + 1);
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) lines.push_back(std::move(partial_));
    partial_.clear();
  }
  return lines;
}

}  // namespace spanwire::k8s
