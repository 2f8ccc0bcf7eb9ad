// `spanwire doctor`: which TLS libraries the sensor hooks, which processes use
// them, and why the others are not covered. It runs the same discovery as the
// sensor (no BPF needed), so what it prints is what `spanwire run` attaches to.
#pragma once

#include <cstdint>
#include <string>

#include "tls/library_discovery.h"

namespace spanwire::tls {

// The report as text; `self_pid` is left out of the process list.
std::string doctor_report(Discovery& discovery, uint32_t self_pid, const std::string& host_root = "/");

}  // namespace spanwire::tls
