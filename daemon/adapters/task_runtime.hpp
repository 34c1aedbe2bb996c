#pragma once
// scheduler::TaskRuntime over isolation::Runtime: a task's LaunchSpec becomes a full svc sandbox
// (every namespace, a private uid range, default capabilities, seccomp, cgroup limits), created
// and started in one call; exits come from one ExitMonitor thread.
#include "isolation/exit_monitor.hpp"
#include "isolation/runtime.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

class TaskRuntimeAdapter final : public scheduler::TaskRuntime {
 public:
  // init: the svc-init binary bound into tasks run with init (isolation::find_init()).
  TaskRuntimeAdapter(isolation::Runtime& runtime, isolation::ExitMonitor& monitor,
                     std::filesystem::path init = {})
      : runtime_(runtime), monitor_(monitor), init_(std::move(init)) {}

  Result<int> launch(const scheduler::LaunchSpec& spec) override;
  Result<> watch(const std::string& id, std::function<void(scheduler::ExitInfo)> on_exit) override;
  Result<> signal(const std::string& id, int sig) override;
  Result<> stop(const std::string& id, int sig, scheduler::Millis grace) override;
  Result<scheduler::TaskUsage> stats(const std::string& id) override;
  Result<> remove(const std::string& id) override;
  Result<std::vector<scheduler::SandboxInfo>> list() override;
  Result<> release(const std::string& id) override;
  // task_stdio.cpp: the shim's attach protocol as scheduler streams.
  Result<std::unique_ptr<scheduler::StdioStream>> attach(
      const std::string& id, const scheduler::AttachRequest& request) override;
  Result<std::unique_ptr<scheduler::StdioStream>> exec(
      const std::string& id, const scheduler::ExecRequest& request) override;

  // Exposed for tests: the sandbox a launch spec asks for.
  static Result<isolation::SandboxSpec> to_sandbox_spec(const scheduler::LaunchSpec& spec,
                                                        const std::filesystem::path& init = {});
  static scheduler::ExitInfo to_exit_info(const isolation::ExitRecord& record);

 private:
  isolation::Runtime& runtime_;
  isolation::ExitMonitor& monitor_;
  std::filesystem::path init_;
};

}  // namespace svc::daemon
