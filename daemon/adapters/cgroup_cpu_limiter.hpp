#pragma once
// scheduler::CpuLimiter over a sandbox's cgroup: the CPU idle throttle of request-mode instances
// (scheduler/cpu_idle.hpp) changes a running instance's CPU quota through this, with the node's
// cgroup driver (v1 cpu.cfs_quota_us, v2 cpu.max), and nothing else of its limits.
//
// Called on the throttle's own thread (and once per re-adopted instance at svcd's start);
// cgroup_of names the sandbox's cgroup (relative to the driver's base) from its state, read on
// each call: a change per idle gap, not per request.
#include <functional>
#include <string>

#include "isolation/cgroups/cgroup_driver.hpp"
#include "scheduler/cpu_idle.hpp"

namespace svc::daemon {

class CgroupCpuLimiter final : public scheduler::CpuLimiter {
 public:
  using CgroupOf = std::function<Result<std::string>(const std::string& sandbox_id)>;
  CgroupCpuLimiter(isolation::CgroupDriver& cgroups, CgroupOf cgroup_of)
      : cgroups_(cgroups), cgroup_of_(std::move(cgroup_of)) {}
  // cpu_millis 0: no quota (the instance's own limit when it has none).
  Result<> set_cpu_limit(const std::string& sandbox_id, std::int64_t cpu_millis) override;

 private:
  isolation::CgroupDriver& cgroups_;
  CgroupOf cgroup_of_;
};

}  // namespace svc::daemon
