#pragma once
// svc.v1.Schedules over the ScheduleController: messages to calls, errors to codes. The
// controller is plain logic on ports (tested with fakes), so the handlers take it directly.
#include "api/server/dispatcher.hpp"
#include "scheduler/schedules/controller.hpp"

namespace svc::api {

void register_schedule_service(Dispatcher& dispatcher, scheduler::ScheduleController& schedules);

}  // namespace svc::api
