#pragma once
// svc.v1.Tasks over the scheduler's TaskController: messages to calls, errors to codes.
#include "api/server/dispatcher.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::api {

void register_task_service(Dispatcher& dispatcher, scheduler::TaskController& tasks,
                           scheduler::LogSource& logs);

}  // namespace svc::api
