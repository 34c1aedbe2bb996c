#include "scheduler/tasks/event_hub.hpp"

namespace svc::scheduler {

std::optional<TaskEvent> EventHub::Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return std::nullopt;
  TaskEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

std::size_t EventHub::Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::shared_ptr<EventHub::Subscription> EventHub::subscribe(std::string task_id) {
  auto sub = std::make_shared<Subscription>();
  sub->task_id_ = std::move(task_id);
  std::lock_guard lock(mu_);
  subscribers_.push_back(sub);
  return sub;
}

void EventHub::publish(const TaskEvent& event) {
  std::lock_guard lock(mu_);
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    auto sub = it->lock();
    if (!sub) {
      it = subscribers_.erase(it);
      continue;
    }
    ++it;
    if (!sub->task_id_.empty() && sub->task_id_ != event.task_id) continue;
    {
      std::lock_guard sl(sub->mu_);
      if (sub->queue_.size() >= limit_) {
        sub->queue_.pop_front();
        ++sub->dropped_;
      }
      sub->queue_.push_back(event);
    }
    sub->cv_.notify_one();
  }
}

}  // namespace svc::scheduler
