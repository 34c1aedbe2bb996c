#include "daemon/node_drain.hpp"

#include <spdlog/spdlog.h>

#include "scheduler/capacity.hpp"
#include "scheduler/services/controller.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::daemon {

NodeDrain::NodeDrain(scheduler::Capacity& capacity, scheduler::TaskController& tasks,
                     services::ServiceController& services, const Clock& clock)
    : capacity_(capacity), tasks_(tasks), services_(services), clock_(clock) {
  listener_ = capacity_.on_release([this] {
    // Taking the mutex orders the notify after a waiter's check of holders().
    { std::lock_guard lock(mu_); }
    released_.notify_all();
  });
}

NodeDrain::~NodeDrain() {
  shutdown();
  std::unique_lock lock(mu_);
  released_.wait(lock, [this] { return waiting_ == 0; });
  lock.unlock();
  capacity_.remove_listener(listener_);
}

void NodeDrain::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  released_.notify_all();
}

Result<api::NodeControl::Drained> NodeDrain::drain(std::chrono::milliseconds timeout) {
  auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return fail(Code::kUnavailable, "svcd is stopping; drain after it restarts");
    ++waiting_;
  }
  struct Done {
    NodeDrain& self;
    ~Done() {
      std::lock_guard lock(self.mu_);
      --self.waiting_;
      self.released_.notify_all();  // under the lock: the destructor may be waiting for this
    }
  } done{*this};
  // Admission closes first, so nothing starts behind the stops. Draining again keeps the
  // first reason (and its time).
  capacity_.cordon(
      fmt::format("the node is draining since {} (svctl node drain; svctl node resume admits again)",
                  format_rfc3339(clock_.now())));
  Drained out;
  // Every task that holds room (running, or on its way); queued ones wait for the resume.
  scheduler::TaskFilter filter;
  filter.page_size = 1000;
  for (;;) {
    auto [page, next] = SVC_TRY_CTX(tasks_.list(filter), "list the tasks to stop");
    for (const auto& t : page) {
      if (t.state == scheduler::TaskState::kStopped || t.state == scheduler::TaskState::kStopping ||
          !t.queued_reason.empty())
        continue;
      if (auto r = tasks_.stop(t.id, std::nullopt, std::nullopt, true); !r) {
        spdlog::warn("node drain: stop task {}: {}", t.id, r.error().message());
        continue;
      }
      ++out.tasks_stopped;
    }
    if (next.empty()) break;
    filter.page_token = next;
  }
  out.instances_drained = services_.drain_all("the node is draining (svctl node drain)");
  spdlog::info("node drain: admission closed; {} task(s) stopping, {} instance(s) draining",
               out.tasks_stopped, out.instances_drained);

  {
    std::unique_lock lock(mu_);
    released_.wait_until(lock, started + timeout,
                         [this] { return stopping_ || capacity_.holders() == 0; });
  }
  out.still_running = static_cast<int>(capacity_.holders());
  out.waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  spdlog::info("node drain: {} after {} ms", out.still_running == 0
                                                 ? std::string("nothing runs")
                                                 : fmt::format("{} still run", out.still_running),
               out.waited.count());
  return out;
}

void NodeDrain::resume() {
  if (capacity_.uncordon()) spdlog::info("node resume: admission open again");
}

}  // namespace svc::daemon
