#pragma once
// scheduler::TaskRuntime over isolation::Runtime: a task's LaunchSpec becomes a full svc sandbox
// (every namespace, a private uid range, default capabilities, seccomp, cgroup limits), created
// and started in one call; exits come from one ExitMonitor thread.
#include <filesystem>
#include <string>
#include <vector>

#include "isolation/exit_monitor.hpp"
#include "isolation/runtime.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

// What every bridge task's /etc/resolv.conf says: nameservers ([network] dns) when given, else
// the host's resolv.conf (read at each launch, as it may change) without its loopback ones.
struct TaskDns {
  std::vector<std::string> nameservers;
  std::filesystem::path host_resolv_conf = "/etc/resolv.conf";
};

class TaskRuntimeAdapter final : public scheduler::TaskRuntime {
 public:
  using Dns = TaskDns;
  // dns: what bridge tasks' resolv.conf says; init: the svc-init binary bound into tasks run
  // with init (isolation::find_init()).
  TaskRuntimeAdapter(isolation::Runtime& runtime, isolation::ExitMonitor& monitor, Dns dns = Dns(),
                     std::filesystem::path init = {})
      : runtime_(runtime), monitor_(monitor), dns_(std::move(dns)), init_(std::move(init)) {}

  Result<int> launch(const scheduler::LaunchSpec& spec) override;
  Result<> watch(const std::string& id, std::function<void(scheduler::ExitInfo)> on_exit) override;
  Result<> signal(const std::string& id, int sig) override;
  Result<> stop(const std::string& id, int sig, scheduler::Millis grace) override;
  Result<scheduler::TaskUsage> stats(const std::string& id) override;
  Result<> remove(const std::string& id) override;
  Result<std::vector<scheduler::SandboxInfo>> list() override;
  Result<> release(const std::string& id) override;
  bool program_started(const std::string& id) override;
  // task_stdio.cpp: the shim's attach protocol as scheduler streams.
  Result<std::unique_ptr<scheduler::StdioStream>> attach(
      const std::string& id, const scheduler::AttachRequest& request) override;
  Result<std::unique_ptr<scheduler::StdioStream>> exec(
      const std::string& id, const scheduler::ExecRequest& request) override;

  // Exposed for tests: the sandbox a launch spec asks for (its /etc files from dns).
  static Result<isolation::SandboxSpec> to_sandbox_spec(const scheduler::LaunchSpec& spec,
                                                        const Dns& dns = Dns(),
                                                        const std::filesystem::path& init = {});
  static scheduler::ExitInfo to_exit_info(const isolation::ExitRecord& record);

 private:
  isolation::Runtime& runtime_;
  isolation::ExitMonitor& monitor_;
  Dns dns_;
  std::filesystem::path init_;
};

}  // namespace svc::daemon
