#pragma once
// svc.v1.Tasks over a TaskBackend (task_backend.hpp): messages to calls, errors to codes.
#include "api/server/dispatcher.hpp"
#include "api/server/services/task_backend.hpp"

namespace svc::api {

void register_task_service(Dispatcher& dispatcher, TaskBackend& tasks);
// Attach and Exec (task_stdio_service.cpp); register_task_service calls it.
void register_task_stdio_service(Dispatcher& dispatcher, TaskBackend& tasks);

}  // namespace svc::api
