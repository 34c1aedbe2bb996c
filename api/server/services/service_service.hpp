#pragma once
// svc.v1.Services over a ServiceBackend (service_backend.hpp): messages to calls, errors to codes.
#include "api/server/dispatcher.hpp"
#include "api/server/services/service_backend.hpp"

namespace svc::api {

void register_service_service(Dispatcher& dispatcher, ServiceBackend& services);

}  // namespace svc::api
