#pragma once
// What the service controller reports about a service at one moment: plain data for the API,
// `svctl service describe` and /metrics.
#include <map>
#include <string>
#include <vector>

#include "scheduler/services/service.hpp"
#include "scheduler/services/stats.hpp"

namespace svc::services {

struct RevisionStatus {
  Revision revision;
  int traffic_percent = 0;  // share of the service's requests it gets now
  int desired = 0;          // what the autoscaler (or a rollout) wants
  int ready = 0;
  int starting = 0;
  int draining = 0;
  bool panicking = false;
  double stable_concurrency = 0;  // average over the stable window
  double panic_concurrency = 0;   // average over the panic window
  bool retired = false;           // no traffic and no instances wanted any more
};

struct ServiceStatus {
  Service service;
  std::vector<RevisionStatus> revisions;  // newest first
  std::vector<Instance> instances;        // those that exist: starting, ready, draining, paused
  std::vector<Condition> conditions;      // "Ready" first
  ServiceStats stats;
};

enum class DeployOutcome { kCreated, kUpdated, kUnchanged };

struct DeployResult {
  ServiceStatus status;
  DeployOutcome outcome = DeployOutcome::kCreated;
  std::string revision;  // the revision the deploy made, or the current one when unchanged
};

// Instances on the node by state, for Node.Info and /metrics.
struct InstanceCounts {
  std::map<std::pair<std::string, std::string>, std::map<InstanceState, int>>
      by_revision;  // (service, revision) -> state -> count
  int total = 0;
};

}  // namespace svc::services
