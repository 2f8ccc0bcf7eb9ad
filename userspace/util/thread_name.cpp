#include "util/thread_name.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

namespace spanwire {

void name_this_thread(const std::string& name) {
  // The kernel keeps 15 characters and the terminating NUL.
  const std::string shown = name.substr(0, 15);
  if (const int rc = pthread_setname_np(pthread_self(), shown.c_str()); rc != 0)
    spdlog::debug("thread name {} not set: error {}", shown, rc);
}

}  // namespace spanwire
