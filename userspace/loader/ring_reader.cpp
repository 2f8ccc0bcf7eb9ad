#include "loader/ring_reader.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "loader/preflight.h"

namespace spanwire {

namespace {

// A record is its 8-byte header (length and flag bits, then the kernel's
// page offset) and its bytes, rounded up to 8 (include/uapi/linux/bpf.h).
uint64_t record_span(uint32_t len) {
  const uint64_t bytes = (len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ;
  return (bytes + 7) & ~uint64_t{7};
}

std::string failed(const char* what) {
  return std::string("cannot read the kernel's event ring (") + what + "): " + std::strerror(errno);
}

// One pass over the ring: records are handed over in order and the consumer
// position is published per `publish_every` bytes and at the end.
class Walk {
 public:
  Walk(const RingView& ring, const RingRecordHandler& on_record, uint64_t publish_every)
      : ring_(ring), on_record_(on_record), publish_every_(publish_every),
        consumer_(__atomic_load_n(ring.consumer_pos, __ATOMIC_ACQUIRE)), published_(consumer_) {}

  // The records before `producer`; false when there were none, or at a
  // record still being written (reserved, not committed): the next pass
  // resumes there.
  bool until(uint64_t producer) {
    if (consumer_ >= producer) return false;
    while (consumer_ < producer) {
      const uint8_t* header = ring_.data + (consumer_ & ring_.mask);
      const uint32_t len = __atomic_load_n(reinterpret_cast<const uint32_t*>(header), __ATOMIC_ACQUIRE);
      if (len & BPF_RINGBUF_BUSY_BIT) return false;
      if ((len & BPF_RINGBUF_DISCARD_BIT) == 0) {
        on_record_(header + BPF_RINGBUF_HDR_SZ, len);
        ++handled_;
      }
      consumer_ += record_span(len);
      if (consumer_ - published_ >= publish_every_) publish();
    }
    return true;
  }

  size_t finish() {
    if (consumer_ != published_) publish();
    return handled_;
  }

 private:
  void publish() {
    __atomic_store_n(ring_.consumer_pos, consumer_, __ATOMIC_RELEASE);
    published_ = consumer_;
  }

  const RingView& ring_;
  const RingRecordHandler& on_record_;
  const uint64_t publish_every_;
  uint64_t consumer_, published_;
  size_t handled_ = 0;
};

}  // namespace

size_t consume_ring(const RingView& ring, const RingRecordHandler& on_record, uint64_t publish_every) {
  Walk walk(ring, on_record, publish_every);
  // The producer position is read once per run of records, not per record:
  // producers write its cache line at every reservation.
  while (walk.until(__atomic_load_n(ring.producer_pos, __ATOMIC_ACQUIRE))) {
  }
  return walk.finish();
}

Mapping::Mapping(int fd, size_t len, int prot, off_t offset)
    : addr_(mmap(nullptr, len, prot, MAP_SHARED, fd, offset)), len_(len) {
  if (addr_ == MAP_FAILED) throw StartupError(failed("mmap"));
}

Mapping::~Mapping() {
  // munmap fails only for a range that is not mapped: nothing to do then.
  munmap(addr_, len_);
}

namespace {

// The ring's data size, checked: a power of two, as the kernel requires.
uint32_t ring_data_bytes(int map_fd) {
  bpf_map_info info{};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len) != 0) throw StartupError(failed("bpf_obj_get_info_by_fd"));
  if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0 || (info.max_entries & (info.max_entries - 1)) != 0)
    throw StartupError("cannot read the kernel's event ring: the map is not a ring buffer of a power-of-two size");
  return info.max_entries;
}

size_t page_size() {
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) throw StartupError(failed("sysconf(_SC_PAGESIZE)"));
  return static_cast<size_t>(page);
}

}  // namespace

RingReader::RingReader(int map_fd) : RingReader(map_fd, ring_data_bytes(map_fd), page_size()) {}

// The layout the kernel maps (kernel/bpf/ringbuf.c): the consumer page,
// writable; then, read-only, the producer page and the data area twice.
RingReader::RingReader(int map_fd, uint32_t data_bytes, size_t page)
    : consumer_page_(map_fd, page, PROT_READ | PROT_WRITE, 0),
      producer_area_(map_fd, page + 2 * size_t{data_bytes}, PROT_READ, static_cast<off_t>(page)),
      view_{reinterpret_cast<uint64_t*>(consumer_page_.data()),
            reinterpret_cast<const uint64_t*>(producer_area_.data()), producer_area_.data() + page,
            uint64_t{data_bytes} - 1},
      publish_every_(std::min<uint64_t>(kPublishBytes, data_bytes / 64)) {}

}  // namespace spanwire
