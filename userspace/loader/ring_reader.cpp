#include "loader/ring_reader.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

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

}  // namespace

size_t consume_ring(const RingView& ring, const RingRecordHandler& on_record, uint64_t publish_every) {
  uint64_t consumer = __atomic_load_n(ring.consumer_pos, __ATOMIC_ACQUIRE);
  uint64_t published = consumer;
  size_t handled = 0;
  // Until the producer position stops moving, or a record is still being
  // written (reserved, not committed): the next pass resumes there.
  for (uint64_t producer; consumer < (producer = __atomic_load_n(ring.producer_pos, __ATOMIC_ACQUIRE));) {
    const uint8_t* header = ring.data + (consumer & ring.mask);
    const uint32_t len = __atomic_load_n(reinterpret_cast<const uint32_t*>(header), __ATOMIC_ACQUIRE);
    if (len & BPF_RINGBUF_BUSY_BIT) break;
    if ((len & BPF_RINGBUF_DISCARD_BIT) == 0) {
      on_record(header + BPF_RINGBUF_HDR_SZ, len);
      ++handled;
    }
    consumer += record_span(len);
    if (consumer - published >= publish_every) {
      __atomic_store_n(ring.consumer_pos, consumer, __ATOMIC_RELEASE);
      published = consumer;
    }
  }
  if (consumer != published) __atomic_store_n(ring.consumer_pos, consumer, __ATOMIC_RELEASE);
  return handled;
}

RingReader::RingReader(int map_fd) {
  bpf_map_info info{};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len) != 0) throw StartupError(failed("bpf_obj_get_info_by_fd"));
  if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0 || (info.max_entries & (info.max_entries - 1)) != 0)
    throw StartupError("cannot read the kernel's event ring: the map is not a ring buffer of a power-of-two size");
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) throw StartupError(failed("sysconf(_SC_PAGESIZE)"));
  // The layout the kernel maps (kernel/bpf/ringbuf.c): the consumer page,
  // writable; then, read-only, the producer page and the data area twice.
  consumer_len_ = static_cast<size_t>(page);
  consumer_page_ = mmap(nullptr, consumer_len_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (consumer_page_ == MAP_FAILED) {
    consumer_page_ = nullptr;
    throw StartupError(failed("mmap of the consumer page"));
  }
  producer_len_ = static_cast<size_t>(page) + 2 * static_cast<size_t>(info.max_entries);
  producer_area_ = mmap(nullptr, producer_len_, PROT_READ, MAP_SHARED, map_fd, page);
  if (producer_area_ == MAP_FAILED) {
    producer_area_ = nullptr;
    const std::string error = failed("mmap of the data area");
    munmap(consumer_page_, consumer_len_);
    throw StartupError(error);
  }
  view_.consumer_pos = static_cast<uint64_t*>(consumer_page_);
  view_.producer_pos = static_cast<const uint64_t*>(producer_area_);
  view_.data = static_cast<const uint8_t*>(producer_area_) + page;
  view_.mask = info.max_entries - 1;

  epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (!epoll_ || epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, map_fd, &ev) != 0) {
    const std::string error = failed("epoll on the ring");
    munmap(producer_area_, producer_len_);
    munmap(consumer_page_, consumer_len_);
    throw StartupError(error);
  }
}

RingReader::~RingReader() {
  // munmap fails only for a range that is not mapped: nothing to do then.
  munmap(producer_area_, producer_len_);
  munmap(consumer_page_, consumer_len_);
}

}  // namespace spanwire
