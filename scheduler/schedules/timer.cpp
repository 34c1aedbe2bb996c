#include "scheduler/schedules/timer.hpp"

#include <spdlog/spdlog.h>

namespace svc::scheduler {

ScheduleTimer::ScheduleTimer(ScheduleController& controller, const Clock& clock)
    : controller_(controller), clock_(clock) {}

ScheduleTimer::~ScheduleTimer() { stop(); }

void ScheduleTimer::start() {
  controller_.set_on_change([this] { wake(); });
  thread_ = std::thread([this] { loop(); });
}

void ScheduleTimer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  controller_.set_on_change(nullptr);
}

void ScheduleTimer::wake() {
  {
    std::lock_guard lock(mu_);
    changed_ = true;
  }
  cv_.notify_all();
}

void ScheduleTimer::loop() {
  // The first tick handles what came due while svcd was down (the missed-run rule).
  std::optional<TimePoint> due = controller_.tick();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (changed_) {
      changed_ = false;
      lock.unlock();
      due = controller_.next_due();
      lock.lock();
      continue;
    }
    if (!due) {
      cv_.wait(lock, [&] { return stopping_ || changed_; });
      continue;
    }
    auto wait = *due - clock_.now();
    if (wait > std::chrono::nanoseconds(0)) {
      auto deadline =
          clock_.steady_now() + std::chrono::duration_cast<std::chrono::nanoseconds>(wait);
      cv_.wait_until(lock, deadline, [&] { return stopping_ || changed_; });
      if (stopping_ || changed_) continue;
      if (clock_.now() < *due) continue;  // woke early by the wall clock: wait the rest
    }
    lock.unlock();
    try {
      due = controller_.tick();
    } catch (const std::exception& e) {
      spdlog::error("schedules: tick threw: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace svc::scheduler
