// The command-line flags of `spanwire run` and `spanwire trace`. A flag writes
// into the flags' ConfigLayer only when the user passed it, so it overrides
// the environment and the config file exactly then.
#pragma once

#include <string>

#include "config/config_layer.h"

namespace CLI {
class App;
}

namespace spanwire {

// What the user asked the command to do, as opposed to settings.
struct CommandFlags {
  std::string config_file;    // --config
  bool print_config = false;  // --print-config
};

// Capture, stitching and diagnostics flags, plus --config.
void add_trace_flags(CLI::App& cmd, ConfigLayer& layer, CommandFlags& command);

// Everything of add_trace_flags plus export, resource, sampling, metrics and --print-config.
void add_run_flags(CLI::App& cmd, ConfigLayer& layer, CommandFlags& command);

}  // namespace spanwire
