#pragma once
// What an instance runs, with the same docker-run semantics as a task: the process part of a
// service's spec is a TaskSpec (image, entrypoint, args, env, workdir, user, resources, stop
// signal), so validation and make_launch_spec (scheduler/tasks/launch.hpp) serve both.
#include <string>

#include "common/result.hpp"
#include "scheduler/resources.hpp"
#include "scheduler/services/service.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::services {

// The task-shaped view of a service's process; name = hostname (instance id when given).
scheduler::TaskSpec process_spec(const ServiceSpec& spec, const std::string& hostname);

// The sandbox of one instance: the image's entrypoint/cmd unless the spec gives them, the
// image's env then the spec's, plus PORT, K_SERVICE and K_REVISION as Cloud Run sets them
// (a spec's own value wins), and the limits of the resolved resources.
Result<scheduler::LaunchSpec> make_instance_launch(const Revision& revision,
                                                   const std::string& instance_id,
                                                   const scheduler::ResolvedImage& image,
                                                   const scheduler::Resources& resources);

}  // namespace svc::services
