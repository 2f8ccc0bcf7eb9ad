// A protocol's own counters (messages, resyncs, parse errors, ...): declared
// once by its module, shared by all of its connections, and reported by the
// sensor's metrics labelled with the protocol's name. Increments are relaxed
// atomics: sessions count on the intake thread while /metrics reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace spanwire {

struct CounterSpec {
  std::string_view name;  // snake_case, the same name in every protocol that counts it
  std::string_view help;  // protocol-neutral: the label says which protocol
};

// Declares a protocol's counters from one X-macro list X(name, help):
// counter::<name> indexes them, kCounters describes them.
#define SW_COUNTER_ENUM_ENTRY(name, help) name,
#define SW_COUNTER_SPEC_ENTRY(name, help) ::spanwire::CounterSpec{#name, help},
#define SW_DEFINE_PROTOCOL_COUNTERS(LIST)                              \
  namespace counter {                                                  \
  enum : size_t { LIST(SW_COUNTER_ENUM_ENTRY) };                       \
  }                                                                    \
  inline constexpr ::spanwire::CounterSpec kCounters[] = {LIST(SW_COUNTER_SPEC_ENTRY)};

class ProtocolCounters {
 public:
  ProtocolCounters(std::string_view protocol, std::span<const CounterSpec> specs)
      : protocol_(protocol), specs_(specs), values_(std::make_unique<std::atomic<uint64_t>[]>(specs.size())) {}

  void add(size_t index, uint64_t n = 1) {
    if (n != 0) values_[index].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value(size_t index) const { return values_[index].load(std::memory_order_relaxed); }
  // Where a Tally (common/tally.h) adds its growth.
  std::atomic<uint64_t>* slot(size_t index) { return &values_[index]; }
  std::string_view protocol() const { return protocol_; }
  std::span<const CounterSpec> specs() const { return specs_; }

 private:
  std::string_view protocol_;
  std::span<const CounterSpec> specs_;
  std::unique_ptr<std::atomic<uint64_t>[]> values_;
};

// Every protocol's counters, by protocol id (enum sw_protocol).
class CounterBoard {
 public:
  // One ProtocolCounters per registered module (protocols/registry.h).
  CounterBoard();
  ProtocolCounters& of(uint8_t protocol);
  const ProtocolCounters& of(uint8_t protocol) const;
  const std::vector<std::unique_ptr<ProtocolCounters>>& all() const { return all_; }

 private:
  std::vector<std::unique_ptr<ProtocolCounters>> all_;
  std::vector<ProtocolCounters*> by_id_;
};

}  // namespace spanwire
