#include "daemon/adapters/cgroup_cpu_limiter.hpp"

namespace svc::daemon {

Result<> CgroupCpuLimiter::set_cpu_limit(const std::string& id, std::int64_t cpu_millis) {
  std::string cgroup = SVC_TRY_CTX(cgroup_of_(id), "CPU limit of instance {}", id);
  if (cgroup.empty())
    return fail(Code::kFailedPrecondition, "CPU limit of instance {}: its sandbox has no cgroup",
                id);
  SVC_TRY_CTX(cgroups_.set_cpu_quota(cgroup, cpu_millis),
              "CPU limit of instance {} to {} milli-vCPU", id, cpu_millis);
  return {};
}

}  // namespace svc::daemon
