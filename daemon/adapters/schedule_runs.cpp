#include "daemon/adapters/schedule_runs.hpp"

namespace svc::daemon {

namespace {
scheduler::RunTask to_run(const scheduler::Task& t) {
  scheduler::RunTask r;
  r.id = t.id;
  r.name = t.spec.name;
  r.state = t.state;
  r.exit_code = t.exit_code;
  r.stop_reason = t.stop_reason;
  return r;
}
}  // namespace

Result<scheduler::RunTask> TaskRunStarter::start(scheduler::TaskSpec spec) {
  return to_run(SVC_TRY(tasks_.run(std::move(spec))));
}

std::optional<scheduler::RunTask> TaskRunStarter::find(const std::string& ref) {
  auto t = tasks_.get(ref);
  if (!t) return std::nullopt;
  return to_run(*t);
}

Result<> TaskRunStarter::stop(const std::string& task_id) {
  SVC_TRY(tasks_.stop(task_id, std::nullopt, std::nullopt));
  return {};
}

}  // namespace svc::daemon
