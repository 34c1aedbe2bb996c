#pragma once
// docker-run semantics: how a task's overrides and its image's config make the process to run.
#include "common/result.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::scheduler {

// entrypoint: the task's when set (reset_entrypoint clears it), else the image's.
// args: the task's when set; else the image's Cmd, unless the task set its own entrypoint
//   (as docker: --entrypoint clears the image's default command).
// env: the image's, then the task's (a task variable replaces the image's of the same name);
//   PATH gets the usual default when neither sets it.
// workdir/user/stop signal: the task's, else the image's, else "/", root, SIGTERM.
Result<LaunchSpec> make_launch_spec(const Task& task, const ResolvedImage& image);

}  // namespace svc::scheduler
