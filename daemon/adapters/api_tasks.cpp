#include "daemon/adapters/api_tasks.hpp"

namespace svc::daemon {

namespace sch = svc::scheduler;

Result<sch::Task> ApiTaskBackend::run(sch::TaskSpec spec) { return tasks_.run(std::move(spec)); }

Result<sch::Task> ApiTaskBackend::get(std::string_view ref, bool with_usage) {
  return with_usage ? tasks_.refresh_usage(ref) : tasks_.get(ref);
}

Result<std::pair<std::vector<sch::Task>, std::string>> ApiTaskBackend::list(
    const sch::TaskFilter& filter) {
  return tasks_.list(filter);
}

Result<sch::Task> ApiTaskBackend::stop(std::string_view ref, std::optional<int> signal,
                                       std::optional<sch::Millis> grace) {
  return tasks_.stop(ref, signal, grace);
}

Result<> ApiTaskBackend::remove(std::string_view ref, bool force) {
  return tasks_.remove(ref, force);
}

Result<sch::Task> ApiTaskBackend::wait(std::string_view ref,
                                       std::chrono::steady_clock::time_point deadline,
                                       const Cancelled& cancelled) {
  return tasks_.wait(ref, deadline, cancelled);
}

Result<> ApiTaskBackend::logs(const std::string& task_id, const sch::LogQuery& query,
                              const std::function<bool(const sch::LogLine&)>& emit,
                              const Cancelled& cancelled) {
  // Subscribed before the first read, so a state change between the read and the wait below
  // is not missed: the follower wakes on the task's next change instead of a timer.
  auto changes = tasks_.subscribe(task_id);
  auto keep_following = [&](std::chrono::milliseconds wait) {
    if (cancelled()) return false;
    auto cur = tasks_.get(task_id);
    if (!cur || cur->state == sch::TaskState::kStopped) return false;
    if (wait.count() > 0) (void)changes->next(wait);
    return true;
  };
  return logs_.read(task_id, query, emit, keep_following);
}

Result<> ApiTaskBackend::events(const std::string& task_id, std::optional<std::uint64_t> since_seq,
                                const std::function<bool(const sch::TaskEvent&)>& emit,
                                const Cancelled& cancelled) {
  auto sub =
      since_seq ? SVC_TRY(tasks_.subscribe_since(task_id, *since_seq)) : tasks_.subscribe(task_id);
  while (!cancelled()) {
    // A bounded wait, so a client that went away releases this thread within a quarter second.
    auto ev = sub->next(std::chrono::milliseconds(250));
    if (!ev) continue;
    if (!emit(*ev)) break;
  }
  return {};
}

Result<std::unique_ptr<sch::StdioStream>> ApiTaskBackend::attach(
    const std::string& task_id, const sch::AttachRequest& request,
    std::chrono::steady_clock::time_point deadline, const Cancelled& cancelled) {
  return tasks_.attach(task_id, request, deadline, cancelled);
}

Result<std::unique_ptr<sch::StdioStream>> ApiTaskBackend::exec(const std::string& task_id,
                                                               const sch::ExecRequest& request) {
  return tasks_.exec(task_id, request);
}

}  // namespace svc::daemon
