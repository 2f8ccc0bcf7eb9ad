// libcurl's global initialisation, done once per process by whichever user of
// libcurl (OTLP/HTTP export, the Kubernetes API client) comes first:
// curl_global_init must not run concurrently with other libcurl calls.
#pragma once

namespace spanwire {

// Throws std::runtime_error when libcurl cannot initialise.
void init_curl_once();

}  // namespace spanwire
