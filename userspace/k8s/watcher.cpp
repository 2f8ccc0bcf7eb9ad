#include "k8s/watcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "k8s/line_splitter.h"
#include "common/text.h"
#include "util/backoff.h"
#include "util/curl.h"
#include "util/thread_name.h"
#include "util/version.h"

namespace spanwire::k8s {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A LIST page of a few hundred objects is a few MB; far more is not sane.
constexpr size_t kMaxListBodyBytes = 256u << 20;
// One watch event carries one object.
constexpr size_t kMaxEventBytes = 16u << 20;
// The body of an error status is a short Status object.
constexpr size_t kMaxErrorBodyBytes = 64u << 10;
// A LIST that pages forever is broken; stop it somewhere.
constexpr int kMaxListPages = 100000;
// A watch outlives the server's timeoutSeconds by this much before the client gives up.
constexpr std::chrono::seconds kWatchGrace{60};
constexpr std::chrono::seconds kConnectTimeout{10};
// A watch that ends sooner than this without delivering anything counts as a failure (backoff).
constexpr std::chrono::seconds kShortWatch{1};

std::optional<std::string> read_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view status_text(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

const char* path_of(Kind kind) {
  switch (kind) {
    case Kind::kPod: return "/api/v1/pods";
    case Kind::kReplicaSet: return "/apis/apps/v1/replicasets";
    case Kind::kJob: return "/apis/batch/v1/jobs";
    case Kind::kService: return "/api/v1/services";
  }
  return "";
}

std::optional<EventType> event_type(std::string_view type) {
  if (type == "ADDED") return EventType::kAdded;
  if (type == "MODIFIED") return EventType::kModified;
  if (type == "DELETED") return EventType::kDeleted;
  return std::nullopt;
}

std::string resource_version_of(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  const auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : std::string();
}

// The message of a Kubernetes Status body, or the body itself when it is not one.
std::string status_message(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object()) {
    const auto message = json.find("message");
    if (message != json.end() && message->is_string()) return one_line(message->get<std::string>());
  }
  return one_line(body);
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kPod: return "pods";
    case Kind::kReplicaSet: return "replicasets";
    case Kind::kJob: return "jobs";
    case Kind::kService: return "services";
  }
  return "objects";
}

std::optional<ApiConfig> in_cluster_config(const char* (*getenv)(const char*), const std::string& service_account_dir) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') return std::nullopt;

  ApiConfig config;
  const std::string host_text(host);
  const bool ipv6 = host_text.find(':') != std::string::npos && host_text.front() != '[';
  config.base_url = "https://" + (ipv6 ? "[" + host_text + "]" : host_text) + ":" + port;
  config.token_file = service_account_dir + "/token";
  config.ca_file = service_account_dir + "/ca.crt";
  if (const char* node = getenv("NODE_NAME"); node != nullptr) config.node_name = node;

  std::string error;
  if (!read_file(config.token_file, &error)) {
    spdlog::warn(
        "Kubernetes API {}: cannot read the service account token {} ({}): pod metadata is off; mount the "
        "service account token (automountServiceAccountToken: true)",
        config.base_url, config.token_file, error);
    return std::nullopt;
  }
  if (config.node_name.empty())
    spdlog::warn(
        "NODE_NAME is not set: watching the pods of every node; set it from the downward API (fieldRef "
        "spec.nodeName) in the DaemonSet");
  return config;
}

// ---------------------------------------------------------------- one kind

class Watcher::Stream {
 public:
  Stream(Watcher& watcher, Kind kind)
      : w_(watcher),
        kind_(kind),
        backoff_({watcher.options_.backoff_initial, watcher.options_.backoff_max, 2.0, 0.5}, std::random_device{}()) {
    if (!easy_) throw std::runtime_error("libcurl could not create a handle");
  }

  void run() {
    bool need_list = true;
    bool first_watch = true;
    while (!w_.stop_) {
      if (need_list) {
        switch (list()) {
          case Outcome::kOk:
            need_list = false;
            first_watch = true;
            succeeded();
            continue;
          case Outcome::kGone:
            ++w_.relists_410_;
            break;
          case Outcome::kFailed:
            break;
        }
        if (!backoff()) return;
        continue;
      }
      if (!first_watch) ++w_.watch_restarts_;
      first_watch = false;
      switch (watch()) {
        case Outcome::kOk:
          succeeded();
          continue;  // re-watch at once from the last resourceVersion
        case Outcome::kGone:
          ++w_.relists_410_;
          need_list = true;
          continue;  // a relist is the remedy, not a reason to wait
        case Outcome::kFailed:
          if (!backoff()) return;
          continue;
      }
    }
  }

 private:
  enum class Outcome { kOk, kGone, kFailed };

  struct Transfer {
    Stream* stream = nullptr;
    bool watching = false;
    long status = 0;
    std::string body;  // LIST body, or an error status's body
    bool gone = false;          // the watch ended with a 410 ERROR event
    bool bad_stream = false;    // the watch sent something unusable
    bool delivered = false;     // the watch delivered at least one line
    bool oversized = false;     // the LIST body passed kMaxListBodyBytes
  };

  static size_t on_data(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    Stream& s = *t->stream;
    const size_t n = size * count;
    if (s.w_.stop_) return 0;
    if (t->status == 0) curl_easy_getinfo(s.easy_.get(), CURLINFO_RESPONSE_CODE, &t->status);
    if (t->watching && t->status == 200) return s.on_watch_bytes(*t, std::string_view(data, n)) ? n : 0;
    const size_t cap = t->status == 200 ? kMaxListBodyBytes : kMaxErrorBodyBytes;
    if (t->body.size() + n > cap) {
      if (t->status == 200) {  // an absurd LIST: fail it rather than hold it
        t->oversized = true;
        return 0;
      }
      t->body.append(data, cap - t->body.size());
      return n;
    }
    t->body.append(data, n);
    return n;
  }

  // False ends the transfer (the stream is to be re-opened or relisted).
  bool on_watch_bytes(Transfer& t, std::string_view data) {
    for (const std::string& line : splitter_.feed(data)) {
      t.delivered = true;
      if (!on_watch_line(t, line)) return false;
    }
    if (splitter_.overflowed()) {
      fail("watching", "an event longer than " + std::to_string(kMaxEventBytes) + " bytes", "re-watching");
      t.bad_stream = true;
      return false;
    }
    return true;
  }

  bool on_watch_line(Transfer& t, const std::string& line) {
    const auto event = nlohmann::json::parse(line, nullptr, false);
    const auto type = event.is_object() ? event.find("type") : event.end();
    const auto object = event.is_object() ? event.find("object") : event.end();
    if (type == event.end() || !type->is_string() || object == event.end() || !object->is_object()) {
      fail("watching", "a watch event that is not {\"type\", \"object\"} JSON: " + one_line(line, 80), "re-watching");
      t.bad_stream = true;
      return false;
    }
    const std::string type_name = type->get<std::string>();
    if (type_name == "ERROR") {
      const int code = object->value("code", 0);
      if (code == 410) {
        t.gone = true;
        spdlog::info("Kubernetes API {}: the watch of {} expired (410 Gone): relisting", w_.config_.base_url,
                     kind_name(kind_));
        return false;
      }
      fail("watching", "error event " + std::to_string(code) + ": " + one_line(object->value("message", "")),
           "re-watching");
      t.bad_stream = true;
      return false;
    }
    const std::string rv = resource_version_of(*object);
    if (type_name == "BOOKMARK") {
      if (!rv.empty()) resource_version_ = rv;
      return true;
    }
    const auto kind = event_type(type_name);
    if (!kind) {
      spdlog::debug("Kubernetes API: ignoring a watch event of type {}", one_line(type_name, 40));
      return true;
    }
    ++w_.events_;
    deliver([&] { w_.callbacks_.on_event(kind_, *kind, *object); }, bool(w_.callbacks_.on_event));
    if (!rv.empty()) resource_version_ = rv;
    return true;
  }

  template <typename Call>
  void deliver(Call call, bool present) {
    if (!present) return;
    const std::lock_guard lock(w_.callback_mutex_);
    try {
      call();
    } catch (const std::exception& e) {
      ++w_.errors_;
      spdlog::error("Kubernetes metadata: a {} update failed: {}", kind_name(kind_), e.what());
    }
  }

  std::string escape(const std::string& value) {
    const std::unique_ptr<char, decltype(&curl_free)> text(
        curl_easy_escape(easy_.get(), value.data(), static_cast<int>(value.size())), curl_free);
    return text ? std::string(text.get()) : std::string();
  }

  std::string url(const std::vector<std::pair<std::string, std::string>>& query) {
    std::string out = w_.config_.base_url + path_of(kind_);
    char separator = '?';
    if (kind_ == Kind::kPod && !w_.config_.node_name.empty()) {
      out += separator + std::string("fieldSelector=") + escape("spec.nodeName=" + w_.config_.node_name);
      separator = '&';
    }
    for (const auto& [name, value] : query) {
      out += separator + name + "=" + escape(value);
      separator = '&';
    }
    return out;
  }

  // Performs one GET. Returns false (logged and counted) when there is no
  // HTTP response or the token cannot be read; t.status otherwise.
  bool perform(const std::string& target, Transfer& t, milliseconds timeout, const char* doing) {
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
    const auto add = [&](const std::string& line) {
      if (curl_slist* grown = curl_slist_append(headers.get(), line.c_str())) {
        headers.release();
        headers.reset(grown);
      }
    };
    add("Accept: application/json");
    if (!w_.config_.token_file.empty()) {
      std::string error;
      const auto token = read_file(w_.config_.token_file, &error);
      if (!token) {
        fail(doing, "cannot read the token file " + w_.config_.token_file + " (" + error + ")",
             "check the service account token mount");
        return false;
      }
      add("Authorization: Bearer " + std::string(trim(*token, kAnyWhitespace)));
    }
    CURL* h = easy_.get();
    t.stream = this;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_URL, target.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_USERAGENT, "spanwire/" SPANWIRE_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(milliseconds(kConnectTimeout).count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // one thread of many
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_transfer_when_set);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, static_cast<void*>(&w_.stop_));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&t));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!w_.config_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, w_.config_.ca_file.c_str());

    const CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    if (w_.stop_) return false;
    if (t.status == 0) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.status);
    // A watch ended on purpose by on_data, or dropped by the server after its
    // 200: both leave a status to judge the stream by.
    if (rc == CURLE_OK || (t.watching && t.status == 200)) return true;
    if (rc == CURLE_WRITE_ERROR && t.status != 0) return true;  // an oversized LIST, judged by the caller
    const std::string detail = error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc);
    const bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                     rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CERTPROBLEM;
    fail(doing, "cannot connect: " + detail,
         tls ? "TLS verification failed; check the CA file " +
                   (w_.config_.ca_file.empty() ? std::string("(system default)") : w_.config_.ca_file)
             : std::string("check that the API server is reachable from this node"));
    return false;
  }

  void fail_status(const char* doing, const Transfer& t) {
    std::string hint;
    switch (t.status) {
      case 401: hint = "the service account token was rejected; check the token mount and that it is not expired"; break;
      case 403: hint = "check the ClusterRole in deploy/k8s/rbac.yaml grants list and watch on " + std::string(kind_name(kind_)); break;
      case 404: hint = "this API server does not serve " + std::string(path_of(kind_)); break;
      default: hint = t.status >= 500 || t.status == 429 ? "the API server is busy or failing; retrying" : "retrying";
    }
    const std::string_view text = status_text(t.status);
    std::string what = std::to_string(t.status) + (text.empty() ? "" : " " + std::string(text));
    if (const std::string message = status_message(t.body); !message.empty() && message != text)
      what += " (" + message + ")";
    fail(doing, what, hint);
  }

  // Counts an error and logs it in one line, at most once per
  // error_log_interval for this kind (the rest are counted in the next line).
  void fail(const char* doing, const std::string& what, const std::string& hint) {
    ++w_.errors_;
    failing_ = true;
    const auto now = Clock::now();
    if (last_logged_ && now - *last_logged_ < w_.options_.error_log_interval) {
      ++suppressed_;
      return;
    }
    const std::string more = suppressed_ > 0 ? " (" + std::to_string(suppressed_) + " more errors since the last report)" : "";
    spdlog::warn("Kubernetes API {}: {} {}: {}; {}{}", w_.config_.base_url, doing, kind_name(kind_), what, hint, more);
    last_logged_ = now;
    suppressed_ = 0;
  }

  void succeeded() {
    backoff_.reset();
    if (failing_)
      spdlog::info("Kubernetes API {}: watching {} again", w_.config_.base_url, kind_name(kind_));
    failing_ = false;
  }

  // Jitter spreads the reconnects of a whole DaemonSet after an API outage.
  bool backoff() { return w_.sleep_unless_stopped(backoff_.next()); }

  Outcome list() {
    nlohmann::json items = nlohmann::json::array();
    std::string continue_token;
    for (int page = 0; page < kMaxListPages; ++page) {
      std::vector<std::pair<std::string, std::string>> query{{"limit", std::to_string(w_.options_.page_limit)}};
      if (!continue_token.empty()) query.emplace_back("continue", continue_token);
      Transfer t;
      if (!perform(url(query), t, w_.options_.list_timeout, "listing")) return Outcome::kFailed;
      if (t.status == 410) {
        spdlog::info("Kubernetes API {}: the paged list of {} expired (410 Gone): relisting", w_.config_.base_url,
                     kind_name(kind_));
        return Outcome::kGone;
      }
      if (t.status != 200) {
        fail_status("listing", t);
        return Outcome::kFailed;
      }
      if (t.oversized) {
        fail("listing", "a page larger than " + std::to_string(kMaxListBodyBytes >> 20) + " MiB",
             "lower the page size");
        return Outcome::kFailed;
      }
      auto body = nlohmann::json::parse(t.body, nullptr, false);
      const auto listed = body.is_object() ? body.find("items") : body.end();
      const auto metadata = body.is_object() ? body.find("metadata") : body.end();
      if (listed == body.end() || !(listed->is_array() || listed->is_null()) || metadata == body.end() ||
          !metadata->is_object()) {
        fail("listing", "a response that is not a list (" + one_line(t.body, 80) + ")",
             "check that the URL is the Kubernetes API server");
        return Outcome::kFailed;
      }
      if (listed->is_array())
        for (auto& item : *listed) items.push_back(std::move(item));
      resource_version_ = metadata->value("resourceVersion", "");
      continue_token = metadata->value("continue", "");
      if (continue_token.empty()) {
        ++w_.lists_;
        deliver([&] { w_.callbacks_.on_list(kind_, items); }, bool(w_.callbacks_.on_list));
        return Outcome::kOk;
      }
    }
    fail("listing", "more than " + std::to_string(kMaxListPages) + " pages", "relisting");
    return Outcome::kFailed;
  }

  Outcome watch() {
    splitter_.reset();
    Transfer t;
    t.watching = true;
    const auto started = Clock::now();
    const auto timeout = std::chrono::seconds(w_.options_.watch_timeout_seconds) + kWatchGrace;
    std::vector<std::pair<std::string, std::string>> query{
        {"watch", "1"},
        {"resourceVersion", resource_version_},
        {"allowWatchBookmarks", "true"},
        {"timeoutSeconds", std::to_string(w_.options_.watch_timeout_seconds)}};
    if (!perform(url(query), t, milliseconds(timeout), "watching")) return Outcome::kFailed;
    if (t.status == 410) return Outcome::kGone;
    if (t.status != 200) {
      fail_status("watching", t);
      return Outcome::kFailed;
    }
    if (t.gone) return Outcome::kGone;
    if (t.bad_stream) return Outcome::kFailed;
    if (!t.delivered && Clock::now() - started < kShortWatch) return Outcome::kFailed;
    return Outcome::kOk;
  }

  Watcher& w_;
  const Kind kind_;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy_{curl_easy_init(), curl_easy_cleanup};
  LineSplitter splitter_{kMaxEventBytes};
  std::string resource_version_;
  Backoff backoff_;  // reset by every success
  bool failing_ = false;
  std::optional<Clock::time_point> last_logged_;
  int suppressed_ = 0;
};

// ---------------------------------------------------------------- Watcher

namespace {
ApiConfig without_trailing_slash(ApiConfig config) {
  while (!config.base_url.empty() && config.base_url.back() == '/') config.base_url.pop_back();
  return config;
}
}  // namespace

Watcher::Watcher(ApiConfig config, Callbacks callbacks, Options options)
    : config_(without_trailing_slash(std::move(config))), callbacks_(std::move(callbacks)), options_(std::move(options)) {
  init_curl_once();
  try {
    for (const Kind kind : options_.kinds) {
      auto stream = std::make_unique<Stream>(*this, kind);
      threads_.emplace_back([s = std::move(stream)] {
        name_this_thread("sw-k8s-watch");
        s->run();
      });
    }
  } catch (...) {
    stop();
    throw;
  }
}

Watcher::~Watcher() { stop(); }

void Watcher::stop() {
  {
    const std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  threads_.clear();  // joins
}

bool Watcher::sleep_unless_stopped(milliseconds delay) {
  std::unique_lock lock(stop_mutex_);
  return !stop_cv_.wait_for(lock, delay, [this] { return stop_.load(); });
}

}  // namespace spanwire::k8s
