#pragma once
// Fan-out of task events to subscribers (the Events API, `svctl events`). Each subscriber has a
// bounded queue; a subscriber that does not keep up loses its oldest events and is told how many.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "scheduler/tasks/task.hpp"

namespace svc::scheduler {

class EventHub {
 public:
  class Subscription {
   public:
    // The next event, or nullopt after timeout (so callers can check for cancellation).
    std::optional<TaskEvent> next(std::chrono::milliseconds timeout);
    std::size_t dropped() const;

   private:
    friend class EventHub;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<TaskEvent> queue_;
    std::size_t dropped_ = 0;
    std::string task_id_;  // empty = all
  };

  explicit EventHub(std::size_t queue_limit = 4096) : limit_(queue_limit) {}
  // The subscription stays registered while the returned pointer lives.
  std::shared_ptr<Subscription> subscribe(std::string task_id = {});
  void publish(const TaskEvent& event);

 private:
  std::size_t limit_;
  std::mutex mu_;
  std::list<std::weak_ptr<Subscription>> subscribers_;
};

}  // namespace svc::scheduler
