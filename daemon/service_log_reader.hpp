#pragma once
// `svctl service logs`: a service's instances' output (live sandboxes and the archived output
// of stopped ones) and its request log, merged in time order, optionally followed. Instances
// that start while following are picked up; one that stops is followed on into its archive
// without repeating a line.
#include <functional>
#include <string>
#include <vector>

#include "api/server/services/service_backend.hpp"
#include "daemon/service_logs.hpp"

namespace svc::daemon {

// live_instances: the ids of the service's instances that exist now (asked again while
// following). Blocks while following until cancelled() or emit returns false.
Result<> read_service_logs(const FileServiceLogs& files, const std::string& service,
                           const api::ServiceLogQuery& query,
                           const std::function<std::vector<std::string>()>& live_instances,
                           const std::function<bool(const api::ServiceLogLine&)>& emit,
                           const std::function<bool()>& cancelled);

}  // namespace svc::daemon
