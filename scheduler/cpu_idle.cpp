#include "scheduler/cpu_idle.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace svc::scheduler {

// ---- planner ----------------------------------------------------------------------------------

void CpuIdlePlanner::add(const std::string& id, std::int64_t full_cpu_millis, SteadyTime now) {
  Instance& in = instances_[id];
  in.full_cpu_millis = full_cpu_millis;
  in.busy = false;
  in.idle_since = now;
}

std::optional<CpuLimitChange> CpuIdlePlanner::remove(const std::string& id) {
  auto it = instances_.find(id);
  if (it == instances_.end()) return std::nullopt;
  std::optional<CpuLimitChange> out;
  if (it->second.throttled) out = CpuLimitChange{id, it->second.full_cpu_millis, false};
  instances_.erase(it);
  return out;
}

bool CpuIdlePlanner::on_busy(const std::string& id, bool busy, SteadyTime at) {
  auto it = instances_.find(id);
  if (it == instances_.end()) return false;
  Instance& in = it->second;
  if (busy == in.busy) return false;  // a repeated edge
  in.busy = busy;
  if (!busy) in.idle_since = at;
  return busy && in.throttled;
}

std::vector<CpuLimitChange> CpuIdlePlanner::due(SteadyTime now) {
  std::vector<CpuLimitChange> out;
  for (auto& [id, in] : instances_) {
    if (in.busy && in.throttled) {
      out.push_back({id, in.full_cpu_millis, false});
      in.throttled = false;
    } else if (!in.busy && !in.throttled && now - in.idle_since >= options_.hold) {
      out.push_back({id, options_.idle_cpu_millis, true});
      in.throttled = true;
    }
  }
  // Releases first: a request waits on them.
  std::stable_partition(out.begin(), out.end(),
                        [](const CpuLimitChange& c) { return !c.throttle; });
  return out;
}

void CpuIdlePlanner::failed(const CpuLimitChange& change, SteadyTime now) {
  auto it = instances_.find(change.sandbox_id);
  if (it == instances_.end()) return;
  // The cgroup still holds the old limit. A release is due again at once; a throttle after
  // another hold, so a failing cgroup is not hammered.
  it->second.throttled = !change.throttle;
  if (change.throttle && !it->second.busy) it->second.idle_since = now;
}

std::optional<SteadyTime> CpuIdlePlanner::next_deadline() const {
  std::optional<SteadyTime> next;
  for (const auto& [id, in] : instances_) {
    std::optional<SteadyTime> at;
    if (in.busy && in.throttled)
      at = SteadyTime::min();
    else if (!in.busy && !in.throttled)
      at = in.idle_since + options_.hold;
    if (at && (!next || *at < *next)) next = at;
  }
  return next;
}

bool CpuIdlePlanner::throttled(const std::string& id) const {
  auto it = instances_.find(id);
  return it != instances_.end() && it->second.throttled;
}

// ---- executor ---------------------------------------------------------------------------------

CpuIdleThrottle::CpuIdleThrottle(CpuLimiter& limiter, const Clock& clock, CpuIdleOptions options)
    : limiter_(limiter), clock_(clock), planner_(options) {}

CpuIdleThrottle::~CpuIdleThrottle() { stop(); }

void CpuIdleThrottle::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void CpuIdleThrottle::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CpuIdleThrottle::add(const std::string& id, std::int64_t full_cpu_millis) {
  {
    std::lock_guard lock(mu_);
    planner_.add(id, full_cpu_millis, clock_.steady_now());
    woken_ = true;  // its deadline may be the nearest now
  }
  cv_.notify_all();
}

void CpuIdleThrottle::remove(const std::string& id) {
  std::lock_guard apply(apply_mu_);  // no throttle of it is being written meanwhile
  std::optional<CpuLimitChange> restore;
  {
    std::lock_guard lock(mu_);
    restore = planner_.remove(id);
  }
  if (restore) {
    if (auto r = limiter_.set_cpu_limit(id, restore->cpu_millis); !r)
      spdlog::warn("cpu idle: restoring the CPU limit of {} failed: {}", id, r.error().message());
  }
}

void CpuIdleThrottle::on_busy(const std::string& id, bool busy, SteadyTime at) {
  bool now;
  {
    std::lock_guard lock(mu_);
    now = planner_.on_busy(id, busy, at);
    if (now) woken_ = true;
  }
  if (now) cv_.notify_all();
}

std::size_t CpuIdleThrottle::apply_due() {
  std::lock_guard apply(apply_mu_);
  std::vector<CpuLimitChange> changes;
  {
    std::lock_guard lock(mu_);
    changes = planner_.due(clock_.steady_now());
  }
  std::size_t written = 0;
  for (const CpuLimitChange& c : changes) {
    if (auto r = limiter_.set_cpu_limit(c.sandbox_id, c.cpu_millis); !r) {
      spdlog::warn("cpu idle: {} the CPU of {} failed (retried): {}",
                   c.throttle ? "throttling" : "releasing", c.sandbox_id, r.error().message());
      std::lock_guard lock(mu_);
      planner_.failed(c, clock_.steady_now());
      continue;
    }
    ++written;
  }
  return written;
}

bool CpuIdleThrottle::throttled(const std::string& id) const {
  std::lock_guard lock(mu_);
  return planner_.throttled(id);
}

void CpuIdleThrottle::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto next = planner_.next_deadline();
    auto wait = std::chrono::milliseconds(1000);  // nothing pending: look again in a while
    if (next) {
      auto left = *next == SteadyTime::min() ? std::chrono::steady_clock::duration::zero()
                                             : *next - clock_.steady_now();
      wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(left),
                        std::chrono::milliseconds(0), wait);
    }
    if (wait.count() > 0) cv_.wait_for(lock, wait, [&] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    lock.unlock();
    apply_due();
    lock.lock();
    // A release that failed is due again at once: retry it after a pause, not in a spin.
    if (auto again = planner_.next_deadline(); again && *again == SteadyTime::min())
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping_; });
  }
}

}  // namespace svc::scheduler
