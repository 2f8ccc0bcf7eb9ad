// Reads pod and workload metadata from the Kubernetes API server the way
// controllers do: LIST each resource once, then WATCH it from the list's
// resourceVersion, so the sensor makes no API call per span.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/kinds.h"

namespace spanwire::k8s {

struct ApiConfig {
  std::string base_url;    // "https://10.0.0.1:443", no trailing slash
  std::string token_file;  // bearer token, re-read on every connect (projected tokens rotate); empty: none
  std::string ca_file;     // CA bundle the server certificate must chain to; empty: system default
  std::string node_name;   // pods are watched for this node only; empty: all nodes
};

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// The in-cluster configuration, as the kubelet sets it up for a pod:
// KUBERNETES_SERVICE_HOST/PORT, the service account's token and ca.crt in
// `service_account_dir`, NODE_NAME from the downward API. nullopt when not
// running in a cluster (no KUBERNETES_SERVICE_HOST/PORT), or when the service
// account token is not mounted (logged once, with what to do).
std::optional<ApiConfig> in_cluster_config(const char* (*getenv)(const char*),
                                           const std::string& service_account_dir = kServiceAccountDir);

std::string_view kind_name(Kind kind);  // "pods", "replicasets", ...

class Watcher {
 public:
  struct Callbacks {
    // The complete current set of one kind (a JSON array of objects), after
    // every (re)list: objects the cache holds that are not in it are gone.
    std::function<void(Kind, const nlohmann::json& items)> on_list;
    std::function<void(Kind, EventType, const nlohmann::json& object)> on_event;
  };

  struct Options {
    std::vector<Kind> kinds{Kind::kPod, Kind::kReplicaSet, Kind::kJob, Kind::kService};
    int page_limit = 500;                // items per LIST page
    int watch_timeout_seconds = 300;     // the server ends each watch after this
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};
    std::chrono::milliseconds list_timeout{60000};
    std::chrono::seconds error_log_interval{60};  // the same resource's errors are logged at most this often
  };

  // Starts one thread per kind. Callbacks are never called concurrently (one
  // mutex serialises them), and always from the watcher's threads.
  Watcher(ApiConfig config, Callbacks callbacks, Options options);
  Watcher(ApiConfig config, Callbacks callbacks) : Watcher(std::move(config), std::move(callbacks), Options{}) {}
  // Stops promptly (about a second at most), also with a watch open.
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  uint64_t lists() const { return lists_; }                  // complete LISTs delivered to on_list
  uint64_t watch_restarts() const { return watch_restarts_; }  // watches re-opened from a known resourceVersion
  uint64_t relists_410() const { return relists_410_; }      // LISTs forced by 410 Gone
  uint64_t errors() const { return errors_; }                // failed requests and unusable responses
  uint64_t events() const { return events_; }                // events delivered to on_event

 private:
  class Stream;  // one kind's list/watch loop, in watcher.cpp

  friend class Stream;
  void stop();
  // Waits for `delay` or until stopping; false when stopping.
  bool sleep_unless_stopped(std::chrono::milliseconds delay);

  const ApiConfig config_;
  const Callbacks callbacks_;
  const Options options_;
  std::mutex callback_mutex_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::atomic<uint64_t> lists_{0}, watch_restarts_{0}, relists_410_{0}, errors_{0}, events_{0};
  std::vector<std::jthread> threads_;
};

}  // namespace spanwire::k8s
