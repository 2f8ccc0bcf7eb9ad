// What the daemon's two libcurl users (OTLP/HTTP export, the Kubernetes API
// client) share: the process-wide initialisation and the way a transfer in
// flight is stopped from another thread.
#pragma once

#include <curl/curl.h>

namespace spanwire {

// libcurl's global initialisation, done once per process by whichever user
// comes first: curl_global_init must not run concurrently with other libcurl
// calls. Throws std::runtime_error when libcurl cannot initialise.
void init_curl_once();

// A CURLOPT_XFERINFOFUNCTION whose CURLOPT_XFERINFODATA is a
// std::atomic<bool>: the transfer is aborted once it is true. libcurl calls
// it about once a second, also while it waits for a connection or an answer.
int abort_transfer_when_set(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

}  // namespace spanwire
