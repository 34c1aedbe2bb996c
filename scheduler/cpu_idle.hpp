#pragma once
// CPU outside requests (Cloud Run's cpu_idle): a request-mode instance is billed only while it
// serves requests, so outside them its CPU is throttled to a sliver, and its measured CPU shows
// it. The proxy reports busy/idle edges (ControlPlane::on_busy, scheduler/ingress/ports.hpp);
// this decides when an instance's cgroup CPU limit changes, and a runtime port applies it.
//
// Hysteresis: an instance goes back to its full limit at once on a busy edge (a request must not
// run throttled), but is throttled only after it stayed idle for `hold`, so a steady stream of
// requests with short gaps writes the cgroup never, and the proxy's hot path pays a lock and a
// map lookup per edge — the cgroup write happens on the throttle's own thread.
//
//   CpuIdlePlanner  pure logic on times passed in (unit-tested on a fake clock)
//   CpuIdleThrottle the executor: owns one thread that applies the planner's changes through
//                   CpuLimiter (daemon/ adapts it to the sandbox's cgroup)
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace svc::scheduler {

using SteadyTime = std::chrono::steady_clock::time_point;

// The runtime side: a running sandbox's CPU limit, in milli-vCPU (cgroup v2 cpu.max, v1
// cpu.cfs_quota_us over the sandbox's period).
class CpuLimiter {
 public:
  virtual ~CpuLimiter() = default;
  virtual Result<> set_cpu_limit(const std::string& sandbox_id, std::int64_t cpu_millis) = 0;
};

struct CpuIdleOptions {
  std::chrono::milliseconds hold{500};  // idle this long before throttling
  // The limit outside requests: 0.01 vCPU (1 ms per 100 ms period, the kernel's least quota), so
  // keep-alives and timers still run.
  std::int64_t idle_cpu_millis = 10;
};

// One limit to write: plain data, from the planner to the executor.
struct CpuLimitChange {
  std::string sandbox_id;
  std::int64_t cpu_millis = 0;
  bool throttle = false;  // true: to the idle limit; false: back to the full one
  bool operator==(const CpuLimitChange&) const = default;
};

class CpuIdlePlanner {
 public:
  explicit CpuIdlePlanner(CpuIdleOptions options) : options_(options) {}

  // A request-mode instance that is ready (start-up runs at the full limit): idle from `now`,
  // throttled once it stays idle for the hold. full_cpu_millis: its own limit (0: none; then
  // "full" is the node's CPUs, which the limiter knows).
  void add(const std::string& sandbox_id, std::int64_t full_cpu_millis, SteadyTime now);
  // Gone, or draining (shut-down runs at the full limit). Returns the change that gives a
  // throttled instance its full limit back.
  std::optional<CpuLimitChange> remove(const std::string& sandbox_id);
  // An edge from the proxy. True when a change is due now (a busy edge on a throttled
  // instance): the executor should run at once rather than at its next deadline.
  bool on_busy(const std::string& sandbox_id, bool busy, SteadyTime at);

  // The changes due at `now`, counted as applied; failed() puts one back so it is retried.
  std::vector<CpuLimitChange> due(SteadyTime now);
  void failed(const CpuLimitChange& change, SteadyTime now);
  // When the next throttle falls due (nullopt: nothing pending).
  std::optional<SteadyTime> next_deadline() const;

  bool throttled(const std::string& sandbox_id) const;
  std::size_t size() const { return instances_.size(); }

 private:
  struct Instance {
    std::int64_t full_cpu_millis = 0;
    bool busy = false;
    SteadyTime idle_since{};
    bool throttled = false;  // what the cgroup holds (as far as applied changes go)
  };
  CpuIdleOptions options_;
  std::unordered_map<std::string, Instance> instances_;
};

// The executor. Thread-safe; on_busy() never blocks on I/O.
class CpuIdleThrottle {
 public:
  CpuIdleThrottle(CpuLimiter& limiter, const Clock& clock, CpuIdleOptions options);
  ~CpuIdleThrottle();
  CpuIdleThrottle(const CpuIdleThrottle&) = delete;
  CpuIdleThrottle& operator=(const CpuIdleThrottle&) = delete;

  void start();
  void stop();  // leaves every limit as it is: instances outlive svcd and re-adopt

  void add(const std::string& sandbox_id, std::int64_t full_cpu_millis);
  // Writes the full limit back before forgetting it (a draining instance shuts down at full).
  void remove(const std::string& sandbox_id);
  void on_busy(const std::string& sandbox_id, bool busy, SteadyTime at);

  // Applies what is due now; returns how many limits it wrote. The thread's tick, called
  // directly by tests on a fake clock.
  std::size_t apply_due();
  bool throttled(const std::string& sandbox_id) const;

 private:
  void loop();

  CpuLimiter& limiter_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  CpuIdlePlanner planner_;  // guarded by mu_
  bool stopping_ = false;
  bool woken_ = false;
  std::mutex apply_mu_;  // one apply_due() at a time (the thread and tests)
  std::thread thread_;
};

}  // namespace svc::scheduler
