// TaskController: attaching to a task's stdio, exec'ing into it, and the hold of a task that
// waits for its first attach. The streams themselves belong to the runtime (stdio.hpp); the
// controller decides when a task can be attached to and names it in every error.
#include <spdlog/spdlog.h>

#include "scheduler/tasks/controller.hpp"

namespace svc::scheduler {

std::optional<std::string> validate_exec(const ExecRequest& r) {
  if (r.args.empty() || r.args.front().empty())
    return "args: give the program to run, as in `svctl exec TASK -- sh -c 'echo hi'`";
  std::size_t bytes = 0;
  for (const auto& a : r.args) bytes += a.size() + 1;
  for (const auto& [k, v] : r.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
      return fmt::format("env: bad variable name \"{}\"", k);
    bytes += k.size() + v.size() + 2;
  }
  if (bytes > (1u << 20)) return "args and env: more than 1 MiB together";
  for (const auto& a : r.args)
    if (a.find('\0') != std::string::npos) return "args: an argument contains a NUL byte";
  if (!r.workdir.empty() && r.workdir.front() != '/')
    return fmt::format("workdir: \"{}\" is not an absolute path", r.workdir);
  return std::nullopt;
}

void TaskController::arm_attach_hold_locked(Entry& e) {
  std::string id = e.task.id;
  e.held = true;
  executor_.schedule(clock_.steady_now() + options_.attach_hold, [this, id] {
    {
      Lock lock(mu_);
      auto it = tasks_.find(id);
      if (it == tasks_.end() || it->second.task.state != TaskState::kRunning) return;
      // Its client came: released by that attach.
      if (!it->second.held) return;
      it->second.held = false;
    }
    // No client came: the task runs anyway, its output in its log.
    if (auto r = runtime_.release(id); !r)
      spdlog::warn("tasks: start held task {}: {}", id, r.error().message());
  });
}

Result<std::unique_ptr<StdioStream>> TaskController::attach(
    std::string_view ref, const AttachRequest& request,
    std::chrono::steady_clock::time_point deadline, const std::function<bool()>& cancelled) {
  std::string id;
  {
    Lock lock(mu_);
    Entry* e = SVC_TRY(must_find_locked(ref));
    id = e->task.id;
    for (;;) {
      auto it = tasks_.find(id);
      if (it == tasks_.end()) return fail(Code::kNotFound, "task {} was removed", id);
      const Task& t = it->second.task;
      if (t.state == TaskState::kRunning || t.state == TaskState::kStopping) {
        if (request.stdin && !t.spec.open_stdin && !t.spec.tty)
          return fail(Code::kFailedPrecondition,
                      "attach to task {} with stdin: it was started without one (run it with "
                      "-i or -t), attach without stdin to see its output",
                      t.spec.name);
        if (request.start) it->second.held = false;
        break;
      }
      if (t.state == TaskState::kStopped)
        return fail(Code::kFailedPrecondition,
                    "attach to task {}: it has stopped ({}); its output is in `svctl logs {}`",
                    t.spec.name, t.stop_reason, t.spec.name);
      if (cancelled && cancelled())
        return fail(Code::kCancelled, "attach to task {} cancelled", id);
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline)
        return fail(Code::kDeadlineExceeded, "attach to task {}: it is still {}", id,
                    state_name(t.state));
      changed_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                                  deadline - now, std::chrono::milliseconds(200)));
    }
  }
  auto stream = runtime_.attach(id, request);
  if (!stream) {
    // The hold was this client's to end: the task runs anyway, its output in its log.
    if (request.start) (void)runtime_.release(id);
    return tl::unexpected(std::move(stream).error().context(fmt::format("task {}", id)));
  }
  return stream;
}

Result<std::unique_ptr<StdioStream>> TaskController::exec(std::string_view ref,
                                                          const ExecRequest& request) {
  if (auto bad = validate_exec(request)) return fail(Code::kInvalidArgument, "{}", *bad);
  std::string id;
  {
    Lock lock(mu_);
    Entry* e = SVC_TRY(must_find_locked(ref));
    const Task& t = e->task;
    if (t.state != TaskState::kRunning)
      return fail(Code::kFailedPrecondition, "exec in task {}: it is {}, not RUNNING", t.spec.name,
                  state_name(t.state));
    id = t.id;
  }
  auto stream = runtime_.exec(id, request);
  if (!stream)
    return tl::unexpected(std::move(stream).error().context(fmt::format("exec in task {}", id)));
  return stream;
}

}  // namespace svc::scheduler
