#pragma once
// scheduler::RunStarter over the TaskController: a schedule's runs are ordinary tasks (visible
// in `svctl ps -a`, billed as tasks). Holds a reference; the TaskSystem outlives it.
#include "scheduler/schedules/ports.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::daemon {

class TaskRunStarter final : public scheduler::RunStarter {
 public:
  explicit TaskRunStarter(scheduler::TaskController& tasks) : tasks_(tasks) {}
  Result<scheduler::RunTask> start(scheduler::TaskSpec spec) override;
  std::optional<scheduler::RunTask> find(const std::string& ref) override;
  Result<> stop(const std::string& task_id) override;

 private:
  scheduler::TaskController& tasks_;
};

}  // namespace svc::daemon
