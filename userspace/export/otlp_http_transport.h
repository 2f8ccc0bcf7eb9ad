// OTLP/HTTP with binary protobuf bodies over libcurl: one POST per export
// call to the signal's full URL (".../v1/traces" or ".../v1/metrics"), on a
// kept-alive connection. One transport per signal.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "export/otlp_transport.h"

namespace spanwire {

// The wait a Retry-After header asks for (RFC 9110 10.2.3): delay-seconds or
// an HTTP-date, which counts from `now` (zero when it has passed). nullopt
// when the value is neither.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

class OtlpHttpTransport final : public OtlpTransport {
 public:
  // Throws std::invalid_argument with one line when settings.endpoint is not
  // http(s)://host[:port][/path], a header cannot be sent, or a certificate
  // or key file cannot be read. Does not connect.
  explicit OtlpHttpTransport(const OtlpSettings& settings);
  ~OtlpHttpTransport() override;
  OtlpHttpTransport(const OtlpHttpTransport&) = delete;
  OtlpHttpTransport& operator=(const OtlpHttpTransport&) = delete;

  ExportResult send(Signal signal, std::string_view request, google::protobuf::Message& response) override;
  void cancel() override;
  std::string describe() const override;

 private:
  struct Curl;  // the easy handle and its header list; keeps <curl/curl.h> out of this header

  // The outcome of a call that got an HTTP response (the easy handle still
  // holds its status and headers).
  ExportResult classify_response(Signal signal, google::protobuf::Message& response);
  // The outcome of a call that got no HTTP response.
  ExportResult classify_transport_error(int curl_code) const;

  const OtlpSettings settings_;
  std::string description_;  // describe(); a password in the URL masked
  std::unique_ptr<Curl> curl_;
  std::mutex send_mutex_;  // the easy handle serves one call at a time
  std::atomic<bool> cancelled_{false};
  bool unparseable_warned_ = false;  // guarded by send_mutex_
};

}  // namespace spanwire
