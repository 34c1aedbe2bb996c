#include "daemon/schedule_system.hpp"

#include <spdlog/spdlog.h>

#include "daemon/adapters/schedule_runs.hpp"
#include "daemon/store/schedule_store.hpp"
#include "scheduler/schedules/timer.hpp"

namespace svc::daemon {

Result<std::unique_ptr<ScheduleSystem>> ScheduleSystem::start(const Config::Schedules& config,
                                                              Store& store,
                                                              scheduler::TaskController& tasks,
                                                              const Clock& clock) {
  std::unique_ptr<ScheduleSystem> s(new ScheduleSystem());
  s->store_ = std::make_unique<SqlScheduleStore>(store);
  s->runs_ = std::make_unique<TaskRunStarter>(tasks);
  scheduler::ScheduleController::Options o;
  o.allow_seconds = config.allow_seconds;
  o.default_starting_deadline = config.starting_deadline;
  o.history = static_cast<std::size_t>(config.history);
  s->controller_ = std::make_unique<scheduler::ScheduleController>(*s->store_, *s->runs_, clock, o);
  SVC_TRY_CTX(s->controller_->recover(), "recover schedules");
  // Runs missed while svcd was down are handled before the API answers: by then a client sees
  // their tasks (or their MISSED records), not a race with the timer's first wake-up.
  s->controller_->tick();
  s->timer_ = std::make_unique<scheduler::ScheduleTimer>(*s->controller_, clock);
  s->timer_->start();
  spdlog::info("schedules: {} schedule(s) loaded{}", s->controller_->list().size(),
               config.allow_seconds ? " (a seconds field is allowed)" : "");
  return s;
}

void ScheduleSystem::shutdown() {
  if (timer_) timer_->stop();
}

ScheduleSystem::~ScheduleSystem() { shutdown(); }

}  // namespace svc::daemon
