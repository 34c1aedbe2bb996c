#pragma once
// ThreadPoolExecutor: the real scheduler::Executor. A fixed pool of worker threads for blocking
// work (pulls, sandbox launches) and one timer thread on the steady clock.
//
// Owns its threads; shutdown() (or the destructor) drops queued work and pending timers and
// joins every thread after the work in progress returns.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "scheduler/tasks/ports.hpp"

namespace svc::scheduler {

class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(unsigned workers);
  ~ThreadPoolExecutor() override;
  void post(std::function<void()> work) override;
  std::uint64_t schedule(std::chrono::steady_clock::time_point deadline,
                         std::function<void()> fn) override;
  void cancel(std::uint64_t timer_id) override;
  void shutdown();

 private:
  void work_loop();
  void timer_loop();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable timer_cv_;
  std::deque<std::function<void()>> work_;
  std::multimap<std::chrono::steady_clock::time_point, std::uint64_t> timer_order_;
  std::map<std::uint64_t, std::function<void()>> timers_;
  std::uint64_t next_timer_ = 1;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace svc::scheduler
