#pragma once
// The services' part of svcd's /metrics, in the Prometheus text format: instances by state,
// requests by status class, the latency histogram, cold starts and their phases. (The ingress
// exports its own series beside these.)
#include <string>
#include <vector>

#include "scheduler/services/status.hpp"

namespace svc::daemon {

std::string service_metrics_text(const std::vector<services::ServiceStatus>& services,
                                 const services::InstanceCounts& counts);

}  // namespace svc::daemon
