#pragma once
// Schedules, built and owned together: their store, the TaskController adapter runs start
// through, the controller and its timer thread. Started after the task controller recovered
// (a missed run looks up the runs it already started), stopped before the tasks shut down.
//
// Owns them all; shutdown() joins the timer thread, then no run starts any more.
#include <memory>

#include "common/clock.hpp"
#include "daemon/config.hpp"
#include "scheduler/schedules/controller.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::scheduler {
class ScheduleTimer;
}

namespace svc::daemon {

class Store;
class SqlScheduleStore;
class TaskRunStarter;

class ScheduleSystem {
 public:
  static Result<std::unique_ptr<ScheduleSystem>> start(const Config::Schedules& config,
                                                       Store& store,
                                                       scheduler::TaskController& tasks,
                                                       const Clock& clock);
  ~ScheduleSystem();
  scheduler::ScheduleController& controller() { return *controller_; }
  void shutdown();

 private:
  ScheduleSystem() = default;
  std::unique_ptr<SqlScheduleStore> store_;
  std::unique_ptr<TaskRunStarter> runs_;
  std::unique_ptr<scheduler::ScheduleController> controller_;
  std::unique_ptr<scheduler::ScheduleTimer> timer_;
};

}  // namespace svc::daemon
