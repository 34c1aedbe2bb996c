#include "scheduler/executor.hpp"

#include <spdlog/spdlog.h>

namespace svc::scheduler {

ThreadPoolExecutor::ThreadPoolExecutor(unsigned workers) {
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { work_loop(); });
  threads_.emplace_back([this] { timer_loop(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(); }

void ThreadPoolExecutor::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    work_.clear();
    timers_.clear();
    timer_order_.clear();
  }
  work_cv_.notify_all();
  timer_cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void ThreadPoolExecutor::post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    work_.push_back(std::move(work));
  }
  work_cv_.notify_one();
}

std::uint64_t ThreadPoolExecutor::schedule(std::chrono::steady_clock::time_point deadline,
                                           std::function<void()> fn) {
  std::uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
    id = next_timer_++;
    timers_.emplace(id, std::move(fn));
    timer_order_.emplace(deadline, id);
  }
  timer_cv_.notify_one();
  return id;
}

void ThreadPoolExecutor::cancel(std::uint64_t timer_id) {
  std::lock_guard lock(mu_);
  timers_.erase(timer_id);  // its entry in timer_order_ is skipped when it comes due
}

void ThreadPoolExecutor::work_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (stopping_) return;
      job = std::move(work_.front());
      work_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("executor: a job threw: {}", e.what());
    }
  }
}

void ThreadPoolExecutor::timer_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timer_order_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    auto first = timer_order_.begin();
    if (std::chrono::steady_clock::now() < first->first) {
      timer_cv_.wait_until(lock, first->first);
      continue;
    }
    std::uint64_t id = first->second;
    timer_order_.erase(first);
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    auto fn = std::move(it->second);
    timers_.erase(it);
    // Timers hand their work to the pool so a slow one cannot delay the others.
    work_.push_back(std::move(fn));
    work_cv_.notify_one();
  }
}

}  // namespace svc::scheduler
