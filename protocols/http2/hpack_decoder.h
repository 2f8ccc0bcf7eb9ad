// HPACK (RFC 7541) decoding of complete header blocks for one direction of a connection.
//
// Known state: a libnghttp2 inflater (RAII) decodes every block, dynamic table included.
// Unknown state (joined mid-connection, lost bytes, or the inflater failed, e.g. on an
// index beyond its table): from then on, blocks are read in "certain-fields" mode: the
// representations are walked, and only fields whose name and value do not depend on the
// dynamic table are decoded (static-table indexed fields, literals with a static or
// literal name); dynamic references are omitted and counted, never guessed. Decoding
// of those certain fields (static table, Huffman) is delegated to a scratch nghttp2
// inflater that only ever sees representations which leave its dynamic table empty.
// Once unknown, a decoder stays in that mode: entries added afterwards would sit in a
// table of unknown content and eviction state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http2/stream.h"

struct nghttp2_hd_inflater;

namespace spanwire::http2 {

// Owns one nghttp2 inflater.
class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(Inflater&& other) noexcept;
  Inflater& operator=(Inflater&& other) noexcept;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  nghttp2_hd_inflater* get() const { return inflater_; }
  explicit operator bool() const { return inflater_ != nullptr; }
  void reset();  // a fresh inflater (empty dynamic table, default limits)

 private:
  nghttp2_hd_inflater* inflater_ = nullptr;
};

struct DecodedBlock {
  std::vector<Header> fields;
  size_t omitted = 0;      // fields skipped because they depend on the unknown dynamic table
  bool truncated = false;  // fields dropped for the header list limit
  bool malformed = false;  // the block could not be walked to its end (in certain-fields mode)
  bool failed_known = false;  // the inflater failed on this block: the state became unknown
};

class HpackDecoder {
 public:
  explicit HpackDecoder(size_t max_header_list = 64 * 1024);

  // Decodes one complete header block.
  DecodedBlock decode(std::string_view block);

  // The dynamic table is unknown from now on (certain-fields mode).
  void set_state_unknown();
  bool state_known() const { return known_; }

  // SETTINGS_HEADER_TABLE_SIZE of the peer that receives these blocks, as the encoder
  // applies it. Raising takes effect at once; lowering makes the next block start with
  // a dynamic table size update (nghttp2 checks it).
  void set_max_table_size(uint32_t size);

 private:
  void decode_certain(std::string_view block, DecodedBlock& out);
  bool decode_one(std::string_view representation, DecodedBlock& out);
  void add(DecodedBlock& out, std::string_view name, std::string_view value);

  size_t max_header_list_;
  size_t list_bytes_ = 0;  // of the block being decoded
  bool known_ = true;
  Inflater inflater_;  // the connection's decoding state, while known_
  Inflater scratch_;   // certain-fields decoding; its dynamic table always stays empty
};

}  // namespace spanwire::http2
