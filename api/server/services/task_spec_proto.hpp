#pragma once
// svc.v1.TaskSpec <-> scheduler::TaskSpec, shared by the services that carry a task spec (Tasks,
// Schedules; the network mode for Services too). Defined in task_service.cpp; errors name the field as the API spells it.
#include "common/result.hpp"
#include "scheduler/tasks/task.hpp"
#include "svc/v1/common.pb.h"

namespace svc::v1 {
class TaskSpec;
}

namespace svc::api {

Result<scheduler::TaskSpec> task_spec_from_proto(const v1::TaskSpec& p);
// Env values are redacted to "" (answers never carry them).
void task_spec_to_proto(const scheduler::TaskSpec& s, v1::TaskSpec* p);

// spec.network both ways, for tasks and services alike (unset is private).
Result<scheduler::NetworkMode> network_from_proto(v1::NetworkMode mode);
v1::NetworkMode network_to_proto(scheduler::NetworkMode mode);

}  // namespace svc::api
