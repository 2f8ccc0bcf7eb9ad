#include "registry.h"

#include <array>

namespace spanwire {

std::span<const RegisteredModule> protocol_modules() {
#define SW_MODULE_ENTRY(NAME, value, folder) RegisteredModule{value, &folder::module()},
  static const std::array kModules{SW_PROTOCOL_LIST(SW_MODULE_ENTRY)};
#undef SW_MODULE_ENTRY
  return kModules;
}

const ProtocolModule* find_protocol_module(uint8_t id) {
  for (const RegisteredModule& m : protocol_modules())
    if (m.id == id) return m.module;
  return nullptr;
}

std::unique_ptr<ProtocolSession> make_protocol_session(uint8_t id, const SessionContext& context) {
  const ProtocolModule* m = find_protocol_module(id);
  return m != nullptr ? m->make_session(context) : nullptr;
}

CounterBoard::CounterBoard() {
  for (const RegisteredModule& m : protocol_modules()) {
    all_.push_back(std::make_unique<ProtocolCounters>(m.module->name, m.module->counters));
    if (by_id_.size() <= m.id) by_id_.resize(m.id + 1u, nullptr);
    by_id_[m.id] = all_.back().get();
  }
}

ProtocolCounters& CounterBoard::of(uint8_t protocol) { return *by_id_.at(protocol); }
const ProtocolCounters& CounterBoard::of(uint8_t protocol) const { return *by_id_.at(protocol); }

}  // namespace spanwire
