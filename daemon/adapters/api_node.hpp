#pragma once
// The host facts isolation/ probed, as the API's plain NodeHost record.
#include "api/server/services/node_service.hpp"
#include "isolation/host_probe.hpp"

namespace svc::daemon {

api::NodeHost to_node_host(const isolation::HostFacts& host);

}  // namespace svc::daemon
