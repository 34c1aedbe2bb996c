#pragma once
// billing::UsageProbe over the sandbox runtime: a sandbox's cgroup figures, by sandbox id (a
// task's id, or a service instance's).
#include "daemon/billing/meter.hpp"
#include "isolation/runtime.hpp"

namespace svc::daemon {

class RuntimeUsageProbe final : public billing::UsageProbe {
 public:
  explicit RuntimeUsageProbe(isolation::Runtime& runtime) : runtime_(runtime) {}
  std::optional<billing::Sample> sample(const std::string& sandbox_id) override;

 private:
  isolation::Runtime& runtime_;
};

}  // namespace svc::daemon
