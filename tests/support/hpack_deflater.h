// Test-side HPACK encoder: header blocks for HTTP/2 parser tests and benchmarks
// come from libnghttp2's deflater, so the decoder under test is checked against
// an independent, well-kept encoder (Huffman, dynamic table, eviction).
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace spanwire::testing {

using Fields = std::vector<std::pair<std::string, std::string>>;

class HpackDeflater {
 public:
  explicit HpackDeflater(size_t table_size = 4096) {
    if (nghttp2_hd_deflate_new(&d_, table_size) != 0) throw std::runtime_error("nghttp2_hd_deflate_new failed");
  }
  ~HpackDeflater() { nghttp2_hd_deflate_del(d_); }
  HpackDeflater(const HpackDeflater&) = delete;
  HpackDeflater& operator=(const HpackDeflater&) = delete;

  void change_table_size(size_t size) {
    if (nghttp2_hd_deflate_change_table_size(d_, size) != 0) throw std::runtime_error("table size change failed");
  }
  size_t entries() { return nghttp2_hd_deflate_get_num_table_entries(d_); }

  // One header block for these fields, in order.
  std::string encode(const Fields& fields, uint8_t nv_flags = NGHTTP2_NV_FLAG_NONE) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(), nv_flags});
    }
    std::string out(nghttp2_hd_deflate_bound(d_, nva.data(), nva.size()), '\0');
    const ssize_t n =
        nghttp2_hd_deflate_hd(d_, reinterpret_cast<uint8_t*>(out.data()), out.size(), nva.data(), nva.size());
    if (n < 0) throw std::runtime_error("nghttp2_hd_deflate_hd failed");
    out.resize(static_cast<size_t>(n));
    return out;
  }

 private:
  nghttp2_hd_deflater* d_ = nullptr;
};

}  // namespace spanwire::testing
