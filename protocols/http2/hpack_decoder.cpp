#include "http2/hpack_decoder.h"

#include <nghttp2/nghttp2.h>

#include <new>
#include <string>
#include <utility>

namespace spanwire::http2 {
namespace {

constexpr size_t kStaticTableEntries = 61;  // RFC 7541 Appendix A
constexpr size_t kFieldOverhead = 32;       // RFC 7541 4.1

// Reads an HPACK integer with an N-bit prefix (RFC 7541 5.1) at block[pos]. Values
// above 2^32 are rejected (no legitimate index or length is that large).
bool read_integer(std::string_view block, size_t& pos, int prefix_bits, uint64_t& value) {
  if (pos >= block.size()) return false;
  const uint64_t max_prefix = (uint64_t{1} << prefix_bits) - 1;
  value = static_cast<unsigned char>(block[pos++]) & max_prefix;
  if (value < max_prefix) return true;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (pos >= block.size()) return false;
    const auto b = static_cast<unsigned char>(block[pos++]);
    value += uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return value <= 0xffffffffu;
  }
  return false;
}

// Skips a string literal (H bit + 7-bit prefix length + octets).
bool skip_string(std::string_view block, size_t& pos) {
  uint64_t length = 0;
  if (!read_integer(block, pos, 7, length)) return false;
  if (length > block.size() - pos) return false;
  pos += static_cast<size_t>(length);
  return true;
}

void append_integer(std::string& out, uint8_t first_bits, int prefix_bits, uint64_t value) {
  const uint64_t max_prefix = (uint64_t{1} << prefix_bits) - 1;
  if (value < max_prefix) {
    out.push_back(static_cast<char>(first_bits | value));
    return;
  }
  out.push_back(static_cast<char>(first_bits | max_prefix));
  value -= max_prefix;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

}  // namespace

Inflater::Inflater() { reset(); }

Inflater::~Inflater() {
  if (inflater_ != nullptr) nghttp2_hd_inflate_del(inflater_);
}

Inflater::Inflater(Inflater&& other) noexcept : inflater_(std::exchange(other.inflater_, nullptr)) {}

Inflater& Inflater::operator=(Inflater&& other) noexcept {
  if (this != &other) {
    if (inflater_ != nullptr) nghttp2_hd_inflate_del(inflater_);
    inflater_ = std::exchange(other.inflater_, nullptr);
  }
  return *this;
}

void Inflater::reset() {
  if (inflater_ != nullptr) nghttp2_hd_inflate_del(inflater_);
  inflater_ = nullptr;
  if (nghttp2_hd_inflate_new(&inflater_) != 0) throw std::bad_alloc();
}

HpackDecoder::HpackDecoder(size_t max_header_list) : max_header_list_(max_header_list) {}

void HpackDecoder::set_state_unknown() { known_ = false; }

void HpackDecoder::set_max_table_size(uint32_t size) {
  if (known_) nghttp2_hd_inflate_change_table_size(inflater_.get(), size);
}

void HpackDecoder::add(DecodedBlock& out, std::string_view name, std::string_view value) {
  const size_t cost = name.size() + value.size() + kFieldOverhead;
  if (out.truncated || list_bytes_ + cost > max_header_list_) {
    out.truncated = true;
    return;
  }
  list_bytes_ += cost;
  out.fields.push_back(Header{std::string(name), std::string(value)});
}

DecodedBlock HpackDecoder::decode(std::string_view block) {
  DecodedBlock out;
  list_bytes_ = 0;
  if (!known_) {
    decode_certain(block, out);
    return out;
  }
  auto* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t pos = 0;
  size_t boundary = 0;  // end of the last field nghttp2 emitted: a representation boundary
  for (;;) {
    nghttp2_nv nv;
    int inflate_flags = 0;
    const ssize_t rv = nghttp2_hd_inflate_hd2(inflater_.get(), &nv, &inflate_flags, in + pos,
                                              block.size() - pos, 1);
    if (rv < 0) {
      // Index beyond the table, bad Huffman, size update above the limit...: the
      // inflater is unusable and its table can no longer be trusted. Fields already
      // emitted were decoded with a consistent table; the rest of the block is read
      // in certain-fields mode from the failing representation on.
      known_ = false;
      out.failed_known = true;
      inflater_.reset();
      decode_certain(block.substr(boundary), out);
      return out;
    }
    pos += static_cast<size_t>(rv);
    if (inflate_flags & NGHTTP2_HD_INFLATE_EMIT) {
      add(out, std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen),
          std::string_view(reinterpret_cast<const char*>(nv.value), nv.valuelen));
      boundary = pos;
    }
    if (inflate_flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inflater_.get());
      return out;
    }
    if ((inflate_flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && pos >= block.size()) {
      // Should not happen with in_final set; treat as a failure to stay safe.
      known_ = false;
      out.failed_known = true;
      inflater_.reset();
      return out;
    }
  }
}

// Decodes one representation that does not touch the dynamic table (indexed static
// field, or literal without indexing) with the scratch inflater.
bool HpackDecoder::decode_one(std::string_view representation, DecodedBlock& out) {
  auto* in = reinterpret_cast<const uint8_t*>(representation.data());
  nghttp2_nv nv;
  int inflate_flags = 0;
  const ssize_t rv = nghttp2_hd_inflate_hd2(scratch_.get(), &nv, &inflate_flags, in,
                                            representation.size(), 1);
  if (rv < 0 || (inflate_flags & NGHTTP2_HD_INFLATE_EMIT) == 0) {
    scratch_.reset();  // e.g. invalid Huffman code: start clean for the next field
    return false;
  }
  add(out, std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen),
      std::string_view(reinterpret_cast<const char*>(nv.value), nv.valuelen));
  // Drain to FINAL so the scratch inflater is ready for the next block.
  for (size_t pos = static_cast<size_t>(rv); (inflate_flags & NGHTTP2_HD_INFLATE_FINAL) == 0;) {
    inflate_flags = 0;
    const ssize_t more = nghttp2_hd_inflate_hd2(scratch_.get(), &nv, &inflate_flags, in + pos,
                                                representation.size() - pos, 1);
    if (more < 0 || (inflate_flags & NGHTTP2_HD_INFLATE_EMIT) != 0) {
      scratch_.reset();
      return true;
    }
    pos += static_cast<size_t>(more);
  }
  nghttp2_hd_inflate_end_headers(scratch_.get());
  return true;
}

void HpackDecoder::decode_certain(std::string_view block, DecodedBlock& out) {
  size_t pos = 0;
  std::string rep;
  while (pos < block.size()) {
    const size_t start = pos;
    const auto first = static_cast<unsigned char>(block[pos]);
    uint64_t index = 0;
    if (first & 0x80) {  // indexed header field (6.1)
      if (!read_integer(block, pos, 7, index) || index == 0) {
        out.malformed = true;
        return;
      }
      if (index > kStaticTableEntries) {
        ++out.omitted;
        continue;
      }
      if (!decode_one(block.substr(start, pos - start), out)) {
        out.malformed = true;
        return;
      }
      continue;
    }
    if ((first & 0xe0) == 0x20) {  // dynamic table size update (6.3): nothing to decode
      if (!read_integer(block, pos, 5, index)) {
        out.malformed = true;
        return;
      }
      continue;
    }
    // Literal field: with incremental indexing (6-bit prefix), without indexing or
    // never indexed (4-bit prefix).
    const int prefix = (first & 0xc0) == 0x40 ? 6 : 4;
    if (!read_integer(block, pos, prefix, index)) {
      out.malformed = true;
      return;
    }
    const size_t name_at = pos;
    if (index == 0 && !skip_string(block, pos)) {
      out.malformed = true;
      return;
    }
    const size_t value_at = pos;
    if (!skip_string(block, pos)) {
      out.malformed = true;
      return;
    }
    if (index > kStaticTableEntries) {  // name from the dynamic table
      ++out.omitted;
      continue;
    }
    // Re-encode as "literal without indexing" so the scratch table stays empty.
    rep.clear();
    append_integer(rep, 0x00, 4, index);
    rep.append(block.substr(index == 0 ? name_at : value_at, pos - (index == 0 ? name_at : value_at)));
    if (!decode_one(rep, out)) {
      out.malformed = true;
      return;
    }
  }
}

}  // namespace spanwire::http2
