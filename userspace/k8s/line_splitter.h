// A watch response is a stream of JSON documents, one per line, that arrive
// in arbitrary slices. LineSplitter turns those slices back into lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace spanwire::k8s {

class LineSplitter {
 public:
  // A line longer than max_line_bytes cannot be a sane watch event; it is
  // reported as overflowed() and the stream should be abandoned.
  explicit LineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Appends `data` and returns the lines it completed, without their "\n"
  // (or "\r\n"); empty lines are skipped. A partial line waits for the next call.
  std::vector<std::string> feed(std::string_view data);

  bool overflowed() const { return overflowed_; }
  // Bytes held of a line not yet complete.
  size_t pending() const { return partial_.size(); }
  void reset() {
    partial_.clear();
    overflowed_ = false;
  }

 private:
  const size_t max_line_bytes_;
  std::string partial_;
  bool overflowed_ = false;
};

}  // namespace spanwire::k8s
