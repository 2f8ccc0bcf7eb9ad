#include "intake/event_decoder.h"

#include <cstring>
#include <string_view>

#include <linux/types.h>

#include "conn/connection_tracker.h"
#include "metrics/metrics.h"
#include "spanwire.h"

namespace spanwire {

void EventDecoder::handle(const void* data, size_t size, uint64_t now) {
  metrics_.events_received++;
  if (size < sizeof(sw_event_header)) {
    metrics_.events_malformed++;
    return;
  }
  // Ring-buffer records are 8-byte aligned, so the structs can be read in place.
  const auto* hdr = static_cast<const sw_event_header*>(data);
  switch (hdr->type) {
    case SW_EV_OPEN:
      if (size < sizeof(sw_open_event)) break;
      tracker_.on_open(*static_cast<const sw_open_event*>(data), now);
      return;
    case SW_EV_DATA: {
      if (size < SW_DATA_HEADER_SIZE) break;
      const auto* ev = static_cast<const sw_data_event*>(data);
      if (ev->copied > ev->len || SW_DATA_HEADER_SIZE + ev->copied > size) break;
      std::string_view payload(reinterpret_cast<const char*>(ev->data), ev->copied);
      if (!(ev->flags & SW_DATA_CONTEXT)) {
        tracker_.on_data(*ev, payload, now);
        return;
      }
      const uint64_t trailer = SW_CONTEXT_TRAILER_OFFSET(uint64_t{ev->copied});
      if (SW_DATA_HEADER_SIZE + trailer + sizeof(sw_request_context) > size) break;
      sw_request_context context;
      std::memcpy(&context, ev->data + trailer, sizeof(context));
      tracker_.on_data(*ev, payload, now, &context);
      return;
    }
    case SW_EV_CLOSE:
      if (size < sizeof(sw_close_event)) break;
      tracker_.on_close(*static_cast<const sw_close_event*>(data));
      return;
    case SW_EV_CONTEXT:
      if (size < sizeof(sw_context_event)) break;
      tracker_.on_context(*static_cast<const sw_context_event*>(data));
      return;
    case SW_EV_GO_STREAM:
      if (size < sizeof(sw_go_stream_event)) break;
      tracker_.on_go_stream(*static_cast<const sw_go_stream_event*>(data));
      return;
    case SW_EV_PROC_EXIT:
      if (size < sizeof(sw_proc_exit_event)) break;
      exited_.insert(hdr->conn.tgid);
      tracker_.on_process_exit(hdr->conn.tgid);
      return;
    case SW_EV_EXEC:
      if (size < sizeof(sw_exec_event)) break;
      execs_.insert(hdr->conn.tgid);
      return;
    default:
      break;
  }
  metrics_.events_malformed++;
}

std::unordered_set<uint32_t> EventDecoder::take_exited() {
  std::unordered_set<uint32_t> out;
  out.swap(exited_);
  return out;
}

}  // namespace spanwire
