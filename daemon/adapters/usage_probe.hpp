#pragma once
// billing::UsageProbe over the sandbox runtime: a sandbox's cgroup figures, by sandbox id (a
// task's id, or a service instance's).
#include <atomic>

#include "daemon/billing/meter.hpp"
#include "isolation/runtime.hpp"

namespace svc::daemon {

class RuntimeUsageProbe final : public billing::UsageProbe {
 public:
  explicit RuntimeUsageProbe(isolation::Runtime& runtime) : runtime_(runtime) {}
  std::optional<billing::Sample> sample(const std::string& sandbox_id) override;
  // The service instances' runtime (their sandboxes live apart from tasks'), once it exists;
  // nullptr before it and after it stops. Looked in when the tasks' runtime has no such sandbox.
  void set_instances(isolation::Runtime* instances) { instances_.store(instances); }

 private:
  isolation::Runtime& runtime_;
  std::atomic<isolation::Runtime*> instances_{nullptr};
};

}  // namespace svc::daemon
