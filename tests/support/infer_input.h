// Canned first bytes for the kernel's pure-C protocol inference
// (protocols/<p>/infer.h), laid out as the BPF program lays them out.
#pragma once

#include <linux/types.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "inference.h"

namespace spanwire::testing {

struct InferInput {
  explicit InferInput(std::string_view bytes, bool first = true, bool midstream = false) {
    std::memset(&in, 0, sizeof(in));
    in.n = std::min<size_t>(bytes.size(), SW_HEAD_BYTES);
    std::memcpy(in.w, bytes.data(), in.n);
    in.total = bytes.size();
    in.first = first;
    in.midstream = midstream;
  }
  sw_infer_input in;
};

}  // namespace spanwire::testing
