#include "export/otlp_http_transport.h"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

#include "google/rpc/status.pb.h"
#include "common/text.h"
#include "util/curl.h"
#include "util/version.h"

namespace spanwire {

namespace {

using std::chrono::milliseconds;

// An OTLP response is a few bytes; anything past this is not one and is dropped.
constexpr size_t kMaxResponseBytes = 1u << 20;

// ---------------------------------------------------------------- settings

std::invalid_argument bad_endpoint(const std::string& endpoint, std::string_view why) {
  return std::invalid_argument("OTLP/HTTP endpoint '" + endpoint + "' " + std::string(why) +
                               "; expected http(s)://host[:port]/path, e.g. http://localhost:4318/v1/traces");
}

using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

std::string url_part(const UrlHandle& url, CURLUPart part) {
  char* text = nullptr;
  if (curl_url_get(url.get(), part, &text, 0) != CURLUE_OK || text == nullptr) return {};
  std::string out(text);
  curl_free(text);
  return out;
}

struct CheckedUrl {
  std::string url;          // normalised, for libcurl
  std::string description;  // for logs, a password masked
  bool tls = false;
};

CheckedUrl check_url(const std::string& endpoint) {
  const std::string lower = to_lower(endpoint);
  if (!lower.starts_with("http://") && !lower.starts_with("https://"))
    throw bad_endpoint(endpoint, "does not start with http:// or https://");
  UrlHandle url(curl_url(), curl_url_cleanup);
  if (!url) throw std::bad_alloc();
  if (const CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, endpoint.c_str(), 0); rc != CURLUE_OK)
    throw bad_endpoint(endpoint, std::string("is not a valid URL (") + curl_url_strerror(rc) + ")");
  if (url_part(url, CURLUPART_HOST).empty()) throw bad_endpoint(endpoint, "has no host");
  if (url_part(url, CURLUPART_PORT) == "0") throw bad_endpoint(endpoint, "has port 0");

  CheckedUrl out;
  out.url = url_part(url, CURLUPART_URL);
  out.tls = url_part(url, CURLUPART_SCHEME) == "https";
  if (!url_part(url, CURLUPART_PASSWORD).empty()) curl_url_set(url.get(), CURLUPART_PASSWORD, "xxx", 0);
  out.description = "OTLP/HTTP " + url_part(url, CURLUPART_URL);
  return out;
}

// Header names are HTTP tokens; values must not break the header block.
// Values are secrets, so no message quotes them.
void check_header(const std::string& name, const std::string& value) {
  const auto bad_in_name = [](unsigned char c) {
    return c <= ' ' || c >= 0x7f || std::strchr("\"(),/:;<=>?@[\\]{}", c) != nullptr;
  };
  if (name.empty() || std::any_of(name.begin(), name.end(), bad_in_name))
    throw std::invalid_argument("OTLP header name '" + one_line(name) +
                                "' is not a valid HTTP header name; check OTEL_EXPORTER_OTLP_HEADERS");
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    throw std::invalid_argument("OTLP header '" + name +
                                "' has a line break or NUL in its value; check OTEL_EXPORTER_OTLP_HEADERS");
}

void check_readable(const std::string& path, std::string_view what, std::string_view setting) {
  const auto fail = [&](std::string_view why) {
    return std::invalid_argument(std::string(what) + " '" + path + "' " + std::string(why) + "; check " +
                                 std::string(setting));
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw fail("is a directory");
  const std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) throw fail(std::string("cannot be read: ") + std::strerror(errno));
}

// ---------------------------------------------------------------- body

// The gzip member (RFC 1952) of `data`, via zlib's deflate with the gzip wrapper.
std::optional<std::string> gzip(std::string_view data) {
  if (data.size() > UINT_MAX) return std::nullopt;  // zlib counts in uInt
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  const std::unique_ptr<z_stream, decltype(&deflateEnd)> end(&zs, deflateEnd);
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  // zlib's input pointer is not const-qualified, but deflate only reads it.
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return std::nullopt;
  out.resize(zs.total_out);
  return out;
}

// ---------------------------------------------------------------- libcurl callbacks

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (body->size() < kMaxResponseBytes) body->append(data, std::min(n, kMaxResponseBytes - body->size()));
  return n;
}

// ---------------------------------------------------------------- outcomes

ExportResult make_result(ExportResult::Outcome outcome, std::string reason, std::string detail) {
  ExportResult r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  r.detail = std::move(detail);
  return r;
}

ExportResult cancelled_result() {
  return make_result(ExportResult::Outcome::kPermanent, "cancelled",
                     "export cancelled: the sensor is shutting down");
}

std::string_view signal_path(Signal signal) { return signal == Signal::kTraces ? "/v1/traces" : "/v1/metrics"; }
std::string_view signal_name(Signal signal) { return signal == Signal::kTraces ? "traces" : "metrics"; }

bool is_retryable_status(long status) { return status == 429 || status == 502 || status == 503 || status == 504; }

// What to check, for the statuses a misconfiguration typically produces.
std::string status_hint(long status, Signal signal, const char* location) {
  if (status >= 300 && status < 400)
    return location != nullptr ? "the server redirects to " + std::string(location) + ": use that URL as the endpoint"
                               : "the server redirects: use the final URL as the endpoint";
  switch (status) {
    case 400: return "the collector could not decode or accept the data";
    case 401:
    case 403: return "check the authentication headers (--otlp-header / OTEL_EXPORTER_OTLP_HEADERS)";
    case 404:
      return "the URL path is wrong: OTLP/HTTP " + std::string(signal_name(signal)) + " go to " +
             std::string(signal_path(signal));
    case 405: return "the server does not take POST there: is this the collector's OTLP/HTTP port (4318)?";
    case 413:
      return "the request is larger than the collector accepts: lower the batch size "
             "(OTEL_BSP_MAX_EXPORT_BATCH_SIZE) or enable gzip (OTEL_EXPORTER_OTLP_COMPRESSION=gzip)";
    case 415: return "the server does not accept application/x-protobuf bodies: is this an OTLP/HTTP endpoint?";
    case 429: return "the collector is throttling this sender";
    case 502:
    case 504: return "a proxy in front of the collector could not reach it";
    case 503: return "the collector is unavailable or overloaded";
    default: break;
  }
  return status >= 500 ? "the collector failed to process the request" : "the collector refused the request";
}

// The message of an error response: a google.rpc.Status by the OTLP rules,
// though proxies answer with text or HTML.
std::string server_message(const std::string& body, std::string_view content_type) {
  if (body.empty()) return {};
  const std::string type = to_lower(content_type);
  if (type.empty() || type.find("protobuf") != std::string::npos) {
    google::rpc::Status status;
    if (status.ParseFromString(body)) return one_line(status.message());
    return {};
  }
  if (type.starts_with("text/plain") || type.find("json") != std::string::npos) return one_line(body);
  return {};
}

// The peer's TLS alert about certificates ("certificate required", "unknown
// ca", "bad certificate"): it reaches libcurl as a failed handshake or, under
// TLS 1.3, as a failed read, but retrying cannot help.
bool is_certificate_alert(std::string_view text) {
  const std::string lower = to_lower(text);
  return lower.find("alert") != std::string::npos &&
         (lower.find("certificate") != std::string::npos || lower.find("unknown ca") != std::string::npos);
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  value = trim(value, kLineWhitespace);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    uint64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    // A wait beyond any retry budget; keeps the milliseconds from overflowing.
    constexpr uint64_t kMaxSeconds = 1'000'000'000;
    if (ec == std::errc::result_out_of_range || seconds > kMaxSeconds) seconds = kMaxSeconds;
    return std::chrono::duration_cast<milliseconds>(std::chrono::seconds(seconds));
  }
  // libcurl reads all three HTTP-date forms (IMF-fixdate, RFC 850, asctime).
  const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const auto wait = std::chrono::system_clock::from_time_t(when) - now;
  return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(wait));
}

struct OtlpHttpTransport::Curl {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy{curl_easy_init(), curl_easy_cleanup};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers{nullptr, curl_slist_free_all};
  std::string request_body;  // libcurl reads it during perform, by pointer
  std::string response_body;
  char error[CURL_ERROR_SIZE] = {};

  void add_header(const std::string& line) {
    curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
    if (grown == nullptr) throw std::bad_alloc();
    (void)headers.release();  // now owned by `grown`, the same list
    headers.reset(grown);
  }
};

namespace {

void must(CURLcode rc, const char* option) {
  if (rc != CURLE_OK)
    throw std::runtime_error(std::string("libcurl refused ") + option + ": " + curl_easy_strerror(rc));
}

}  // namespace

OtlpHttpTransport::OtlpHttpTransport(const OtlpSettings& settings) : settings_(settings) {
  init_curl_once();
  const CheckedUrl url = check_url(settings_.endpoint);
  description_ = url.description;
  for (const auto& [name, value] : settings_.headers) check_header(name, value);
  if (!settings_.client_key_file.empty() && settings_.client_cert_file.empty())
    throw std::invalid_argument(
        "an OTLP client key needs a client certificate; set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE too");
  if (!settings_.ca_file.empty())
    check_readable(settings_.ca_file, "OTLP CA certificate file", "--otlp-certificate / OTEL_EXPORTER_OTLP_CERTIFICATE");
  if (!settings_.client_cert_file.empty())
    check_readable(settings_.client_cert_file, "OTLP client certificate file", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
  if (!settings_.client_key_file.empty())
    check_readable(settings_.client_key_file, "OTLP client key file", "OTEL_EXPORTER_OTLP_CLIENT_KEY");
  const bool any_tls_file =
      !settings_.ca_file.empty() || !settings_.client_cert_file.empty() || !settings_.client_key_file.empty();
  if (!url.tls && any_tls_file)
    spdlog::warn("{}: certificate settings are ignored for a plain http:// endpoint (use https:// for TLS)",
                 description_);

  curl_ = std::make_unique<Curl>();
  CURL* h = curl_->easy.get();
  if (h == nullptr) throw std::runtime_error("libcurl could not create a handle");

  curl_->add_header("Content-Type: application/x-protobuf");
  curl_->add_header("Expect:");  // no 100-continue round trip before large bodies
  if (settings_.compression == Compression::kGzip) curl_->add_header("Content-Encoding: gzip");
  // "Name;" is libcurl's way to send a header with an empty value.
  for (const auto& [name, value] : settings_.headers) curl_->add_header(value.empty() ? name + ";" : name + ": " + value);

  must(curl_easy_setopt(h, CURLOPT_URL, url.url.c_str()), "CURLOPT_URL");
  must(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR");
  must(curl_easy_setopt(h, CURLOPT_POST, 1L), "CURLOPT_POST");
  must(curl_easy_setopt(h, CURLOPT_HTTPHEADER, curl_->headers.get()), "CURLOPT_HTTPHEADER");
  must(curl_easy_setopt(h, CURLOPT_USERAGENT, "spanwire/" SPANWIRE_VERSION), "CURLOPT_USERAGENT");
  must(curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""), "CURLOPT_ACCEPT_ENCODING");
  must(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count())), "CURLOPT_TIMEOUT_MS");
  must(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), "CURLOPT_NOSIGNAL");  // we are one thread of many
  must(curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L), "CURLOPT_TCP_KEEPALIVE");
  must(curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L), "CURLOPT_NOPROGRESS");
  must(curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_transfer_when_set), "CURLOPT_XFERINFOFUNCTION");
  must(curl_easy_setopt(h, CURLOPT_XFERINFODATA, static_cast<void*>(&cancelled_)), "CURLOPT_XFERINFODATA");
  must(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body), "CURLOPT_WRITEFUNCTION");
  must(curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&curl_->response_body)), "CURLOPT_WRITEDATA");
  must(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_->error), "CURLOPT_ERRORBUFFER");
  must(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L), "CURLOPT_SSL_VERIFYPEER");
  must(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L), "CURLOPT_SSL_VERIFYHOST");
  if (!settings_.ca_file.empty()) must(curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str()), "CURLOPT_CAINFO");
  if (!settings_.client_cert_file.empty()) {
    must(curl_easy_setopt(h, CURLOPT_SSLCERT, settings_.client_cert_file.c_str()), "CURLOPT_SSLCERT");
    must(curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM"), "CURLOPT_SSLCERTTYPE");
  }
  if (!settings_.client_key_file.empty()) {
    must(curl_easy_setopt(h, CURLOPT_SSLKEY, settings_.client_key_file.c_str()), "CURLOPT_SSLKEY");
    must(curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM"), "CURLOPT_SSLKEYTYPE");
  }
}

OtlpHttpTransport::~OtlpHttpTransport() = default;

std::string OtlpHttpTransport::describe() const { return description_; }

void OtlpHttpTransport::cancel() { cancelled_ = true; }

ExportResult OtlpHttpTransport::send(Signal signal, std::string_view request, google::protobuf::Message& response) {
  const std::lock_guard lock(send_mutex_);
  if (cancelled_) return cancelled_result();

  std::string body(request);
  if (settings_.compression == Compression::kGzip) {
    std::optional<std::string> packed = gzip(body);
    if (!packed) return make_result(ExportResult::Outcome::kPermanent, "gzip", "zlib could not compress the request");
    body = std::move(*packed);
  }
  curl_->request_body = std::move(body);
  curl_->response_body.clear();
  curl_->error[0] = '\0';

  CURL* h = curl_->easy.get();
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, curl_->request_body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(curl_->request_body.size()));
  const CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_ABORTED_BY_CALLBACK && cancelled_) return cancelled_result();
  if (rc != CURLE_OK) return classify_transport_error(rc);
  return classify_response(signal, response);
}

ExportResult OtlpHttpTransport::classify_response(Signal signal, google::protobuf::Message& response) {
  CURL* h = curl_->easy.get();
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  const char* content_type = nullptr;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &content_type);
  const std::string_view type = content_type != nullptr ? content_type : "";
  const std::string& body = curl_->response_body;

  if (status >= 200 && status < 300) {
    ExportResult ok = make_result(ExportResult::Outcome::kOk, "", "");
    response.Clear();
    if (body.empty() || response.ParseFromString(body)) return ok;
    // The data was accepted; only the partial-success report is lost.
    response.Clear();
    ok.detail = "HTTP " + std::to_string(status) + " but the body is no " + response.GetTypeName() +
                " (Content-Type '" + one_line(type) + "'); a partial success would go unnoticed";
    if (!unparseable_warned_) {
      spdlog::warn("{}: {}", description_, ok.detail);
      unparseable_warned_ = true;
    }
    return ok;
  }

  const char* location = nullptr;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
  ExportResult failed = make_result(
      is_retryable_status(status) ? ExportResult::Outcome::kRetryable : ExportResult::Outcome::kPermanent,
      "http_" + std::to_string(status), "");
  const std::string message = server_message(body, type);
  failed.detail = "HTTP " + std::to_string(status) + (message.empty() ? "" : " (" + message + ")") + ": " +
                  status_hint(status, signal, location);
  if (failed.outcome == ExportResult::Outcome::kRetryable) {
    curl_header* retry_after = nullptr;
    if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK)
      failed.retry_after = parse_retry_after(retry_after->value, std::chrono::system_clock::now());
  }
  return failed;
}

ExportResult OtlpHttpTransport::classify_transport_error(int curl_code) const {
  const auto rc = static_cast<CURLcode>(curl_code);
  // libcurl's text for the code, and its detailed message when it has one
  // (which may come from an earlier step that went wrong first).
  std::string why = curl_easy_strerror(rc);
  if (curl_->error[0] != '\0') why += " (" + one_line(curl_->error) + ")";
  using enum ExportResult::Outcome;
  const std::string ca_hint =
      ": check --otlp-certificate / OTEL_EXPORTER_OTLP_CERTIFICATE (the CA that signed the collector's certificate)";
  const std::string client_hint =
      ": check the client certificate and key (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / OTEL_EXPORTER_OTLP_CLIENT_KEY)";
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return make_result(kRetryable, "dns", why + ": check the host name in the endpoint");
    case CURLE_COULDNT_CONNECT:
      return make_result(kRetryable, "connect", why + ": is the collector running and listening there?");
    case CURLE_OPERATION_TIMEDOUT:
      return make_result(kRetryable, "timeout",
                         "no answer within " + std::to_string(settings_.timeout.count()) + " ms (" + why +
                             "): the collector is slow or unreachable; the limit is OTEL_EXPORTER_OTLP_TIMEOUT");
    case CURLE_GOT_NOTHING:
      return make_result(kRetryable, "empty_reply", why + ": the collector closed the connection without answering (if it serves TLS, use https://)");
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      if (is_certificate_alert(why))
        return make_result(kPermanent, "tls", why + ": the collector refused our client certificate" + client_hint);
      if (rc == CURLE_SSL_CONNECT_ERROR)
        return make_result(kRetryable, "tls_handshake",
                           why + ": is the collector serving TLS on this port? (http:// for plaintext)");
      return make_result(kRetryable, "connection_reset",
                         why + ": the connection broke off; the collector may be restarting");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
      return make_result(kPermanent, "tls", why + ca_hint);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
      return make_result(kPermanent, "tls", why + client_hint);
    case CURLE_SSL_CIPHER:
    case CURLE_USE_SSL_FAILED:
      return make_result(kPermanent, "tls", why + ": the collector's TLS settings do not match ours");
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
      return make_result(kPermanent, "protocol",
                         why + ": the server does not answer in HTTP/1.1; is this the OTLP/gRPC port (4317)? "
                               "OTLP/HTTP listens on 4318");
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return make_result(kRetryable, "http2", why + ": the HTTP/2 connection to the collector failed");
    default: break;
  }
  // The server may have dropped us mid-call; the OTLP rules say send again.
  return make_result(kRetryable, "transport", why);
}

}  // namespace spanwire
