#pragma once
// ScheduleTimer: the thread that makes schedules fire on time in svcd. It sleeps on the steady
// clock until the controller's next due time (a condition variable's wait_until, which
// libstdc++ implements with a CLOCK_MONOTONIC futex wait: precise to well under a millisecond on
// an idle machine), calls tick(), and starts over; create/resume wake it early.
//
// Wall-clock due times are turned into a steady deadline each time it goes to sleep, so a step of
// the system clock is noticed at the latest when the next wait ends; a wake-up that comes before
// the due time (wall clock slower than the steady one) simply waits again.
//
// Owns its thread: started by start(), joined by stop() or the destructor.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.hpp"
#include "scheduler/schedules/controller.hpp"

namespace svc::scheduler {

class ScheduleTimer {
 public:
  ScheduleTimer(ScheduleController& controller, const Clock& clock);
  ~ScheduleTimer();
  ScheduleTimer(const ScheduleTimer&) = delete;
  ScheduleTimer& operator=(const ScheduleTimer&) = delete;

  void start();
  void stop();
  // Re-reads the next due time (the controller calls it through set_on_change).
  void wake();

 private:
  void loop();

  ScheduleController& controller_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool changed_ = false;
  std::thread thread_;
};

}  // namespace svc::scheduler
