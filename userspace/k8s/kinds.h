#pragma once

// Shared vocabulary between the API watcher (which fetches objects) and the
// metadata cache (which stores them), so neither depends on the other.
namespace spanwire::k8s {

// The Kubernetes resources spanwire reads metadata from.
enum class Kind { kPod, kReplicaSet, kJob, kService };

// Watch event types a consumer must act on. BOOKMARK and ERROR are handled
// inside the watcher and never reach consumers.
enum class EventType { kAdded, kModified, kDeleted };

}  // namespace spanwire::k8s
