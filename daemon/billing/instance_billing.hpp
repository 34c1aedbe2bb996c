#pragma once
// Service instances billed for real: the glue between the services' control plane and the
// instances' usage records (instance_recorder.hpp).
//
//   InstanceBilling      the store side: SqlServiceStore calls it inside the transaction of an
//                        instance's own write, so the record opens with the write that records
//                        the instance's sandbox start and closes with the one that removes its
//                        row, and costs no commit of its own. Also svcd's restart: open records
//                        carry on (adopt_open) before the services recover, and records of
//                        instances that no longer exist close at their last checkpoint after.
//   BilledControlPlane   the proxy's side: a ControlPlane in front of the service controller
//                        that feeds the edges (ready, busy/idle, drained, each request) to the
//                        recorder and, for request-mode instances, to the CPU idle throttle
//                        (scheduler/cpu_idle.hpp), then passes them on.
//
// Thread-safety: BilledControlPlane's calls come on the proxy's io threads; each takes the
// recorder's and the throttle's locks and a map lookup, no I/O (the throttle writes cgroups on
// its own thread). InstanceBilling's come under the controller's lock, in a store transaction.
#include <cstdint>
#include <functional>
#include <string>

#include "daemon/billing/instance_recorder.hpp"
#include "daemon/store/service_store.hpp"
#include "daemon/store/usage_store.hpp"
#include "scheduler/cpu_idle.hpp"
#include "scheduler/ingress/ports.hpp"

namespace svc::billing {

class InstanceBilling final : public daemon::InstanceWriteListener {
 public:
  // throttle: nullptr when nothing is throttled (no cgroup CPU control).
  InstanceBilling(InstanceUsageRecorder& recorder, scheduler::CpuIdleThrottle* throttle)
      : recorder_(recorder), throttle_(throttle) {}

  // The record an instance opens: who it is (service, revision, instance), what it reserves.
  static InstanceRun run_of(const services::Instance& instance);
  static InstanceExit exit_of(const services::Instance& instance);

  Result<> on_instance_written(daemon::Store::Tx& tx, const services::Instance& instance) override;
  Result<> on_instance_ended(daemon::Store::Tx& tx, const services::Instance& instance) override;

  // At svcd's start, before the services recover: every open instance record carries on where
  // its last checkpoint left it; `each` sees each one (svcd gives request-mode instances their
  // full CPU back: a throttle from before the restart must not hold the first request).
  // Returns how many.
  static Result<int> adopt_open(daemon::SqlUsageStore& store, InstanceUsageRecorder& recorder,
                                const std::function<void(const UsageRecord&)>& each = {});
  // After the services recovered: open instance records whose instance no longer exists (its
  // row and sandbox both gone) end at their last checkpoint. Returns how many were closed.
  static Result<int> close_orphans(daemon::SqlUsageStore& store,
                                   const std::function<bool(const std::string&)>& instance_exists);

 private:
  InstanceUsageRecorder& recorder_;
  scheduler::CpuIdleThrottle* throttle_;
};

class BilledControlPlane final : public ingress::ControlPlane {
 public:
  BilledControlPlane(ingress::ControlPlane& inner, InstanceUsageRecorder& recorder,
                     scheduler::CpuIdleThrottle* throttle, const Clock& clock)
      : inner_(inner), recorder_(recorder), throttle_(throttle), clock_(clock) {}

  void on_demand(const std::string& revision, std::size_t waiting) override;
  void on_ready(const std::string& instance_id, ingress::SteadyTime at) override;
  void on_not_ready(const std::string& instance_id, std::string why) override;
  void on_drained(const std::string& instance_id) override;
  void on_busy(const std::string& instance_id, bool busy, ingress::SteadyTime at) override;
  void on_upstream_error(const std::string& instance_id, std::string why) override;
  void on_request(const ingress::RequestRecord& record) override;

 private:
  ingress::ControlPlane& inner_;
  InstanceUsageRecorder& recorder_;
  scheduler::CpuIdleThrottle* throttle_;
  const Clock& clock_;
};

}  // namespace svc::billing
