#pragma once
// api::TaskBackend over the scheduler's TaskController and the shim's logs (LogSource): what
// svc.v1.Tasks asks, answered by the real modules. Holds references only; the TaskSystem owns
// the controller and the log source and outlives the API server that calls this.
#include "api/server/services/task_backend.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::daemon {

class ApiTaskBackend final : public api::TaskBackend {
 public:
  ApiTaskBackend(scheduler::TaskController& tasks, scheduler::LogSource& logs)
      : tasks_(tasks), logs_(logs) {}

  Result<Task> run(scheduler::TaskSpec spec) override;
  Result<Task> get(std::string_view ref, bool with_usage) override;
  Result<std::pair<std::vector<Task>, std::string>> list(
      const scheduler::TaskFilter& filter) override;
  Result<Task> stop(std::string_view ref, std::optional<int> signal,
                    std::optional<scheduler::Millis> grace) override;
  Result<> remove(std::string_view ref, bool force) override;
  Result<Task> wait(std::string_view ref, std::chrono::steady_clock::time_point deadline,
                    const Cancelled& cancelled) override;
  Result<> logs(const std::string& task_id, const scheduler::LogQuery& query,
                const std::function<bool(const scheduler::LogLine&)>& emit,
                const Cancelled& cancelled) override;
  Result<> events(const std::string& task_id, std::optional<std::uint64_t> since_seq,
                  const std::function<bool(const scheduler::TaskEvent&)>& emit,
                  const Cancelled& cancelled) override;
  Result<std::unique_ptr<scheduler::StdioStream>> attach(
      const std::string& task_id, const scheduler::AttachRequest& request,
      std::chrono::steady_clock::time_point deadline, const Cancelled& cancelled) override;
  Result<std::unique_ptr<scheduler::StdioStream>> exec(
      const std::string& task_id, const scheduler::ExecRequest& request) override;

 private:
  scheduler::TaskController& tasks_;
  scheduler::LogSource& logs_;
};

}  // namespace svc::daemon
