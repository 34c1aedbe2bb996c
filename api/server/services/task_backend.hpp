#pragma once
// The port svc.v1.Tasks stands on: what the API needs of the task controller, in the
// scheduler's plain data types (scheduler/tasks/task.hpp is the domain model the API translates
// to and from). daemon/adapters/api_tasks.* implements it over the real TaskController and the
// shim's logs; tests/unit/api/ uses a fake, so the handlers are tested without a daemon.
//
// Every call may block (wait, logs, events do until the task changes); every call is made on
// the call's own thread and must be safe from several threads at once.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "scheduler/tasks/ports.hpp"
#include "scheduler/tasks/stdio.hpp"
#include "scheduler/tasks/task.hpp"

namespace svc::api {

class TaskBackend {
 public:
  using Task = scheduler::Task;
  using Cancelled = std::function<bool()>;

  virtual ~TaskBackend() = default;

  // Validates, admits (or queues), records and starts the task; answers once it is stored.
  virtual Result<Task> run(scheduler::TaskSpec spec) = 0;
  // By id, unique id prefix (at least 4 characters) or name. with_usage: refresh a running
  // task's usage from its cgroup first (costs a few reads; Get does it, resolving a name does
  // not need it).
  virtual Result<Task> get(std::string_view ref, bool with_usage) = 0;
  // A page of tasks and the token of the next page ("" at the end).
  virtual Result<std::pair<std::vector<Task>, std::string>> list(
      const scheduler::TaskFilter& filter) = 0;
  // Sends the signal (unset: the task's stop signal), then SIGKILL after grace (unset: the
  // task's grace period). Answers at once, with the task as it is then.
  virtual Result<Task> stop(std::string_view ref, std::optional<int> signal,
                            std::optional<scheduler::Millis> grace) = 0;
  virtual Result<> remove(std::string_view ref, bool force) = 0;
  // Blocks until the task is STOPPED, deadline passes (DEADLINE_EXCEEDED) or cancelled()
  // (CANCELLED).
  virtual Result<Task> wait(std::string_view ref, std::chrono::steady_clock::time_point deadline,
                            const Cancelled& cancelled) = 0;
  // The task's output in order (task_id: an id as get() answers it). With query.follow it goes
  // on as lines arrive until the task has stopped and its output is drained, or cancelled().
  // emit returning false (the client went away) ends it.
  virtual Result<> logs(const std::string& task_id, const scheduler::LogQuery& query,
                        const std::function<bool(const scheduler::LogLine&)>& emit,
                        const Cancelled& cancelled) = 0;
  // State changes as they happen, of one task (task_id) or of all (""), until emit returns
  // false or cancelled(). since_seq: first the kept events after that sequence (a marker event,
  // TaskEvent::dropped > 0, for those no longer kept); INVALID_ARGUMENT for a sequence no event
  // has had yet. A subscriber that falls behind gets such a marker where events were lost.
  virtual Result<> events(const std::string& task_id, std::optional<std::uint64_t> since_seq,
                          const std::function<bool(const scheduler::TaskEvent&)>& emit,
                          const Cancelled& cancelled) = 0;
  // A client of the task's stdio (task_id: an id as get() answers it). Waits while the task is
  // pending or starting, until deadline or cancelled(); FAILED_PRECONDITION once it stopped.
  virtual Result<std::unique_ptr<scheduler::StdioStream>> attach(
      const std::string& task_id, const scheduler::AttachRequest& request,
      std::chrono::steady_clock::time_point deadline, const Cancelled& cancelled) = 0;
  // A process in the running task's sandbox, attached before it starts; the stream ends with
  // its exit, and closing it early ends the process.
  virtual Result<std::unique_ptr<scheduler::StdioStream>> exec(
      const std::string& task_id, const scheduler::ExecRequest& request) = 0;
};

}  // namespace svc::api
