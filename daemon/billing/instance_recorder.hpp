#pragma once
// Usage records of service instances. The services controller opens an instance's record in the
// transaction that records the instance's start and closes it in the one that records its exit
// (as TaskUsageRecorder does for tasks); between the two, the proxy's edges (ControlPlane::on_ready
// / on_busy / on_drained, scheduler/ingress/ports.hpp) feed each live instance's request-mode
// accounting here, in memory, and the meter (meter.hpp) writes that accounting with the record's
// checkpoints, so a restarted svcd carries on counting where it left off.
//
// Request mode bills start-up (sandbox start -> ready), the instance-seconds touched by a busy
// interval and shut-down (drain -> exit); instance mode bills the whole life, so the edges only
// feed the measured busy milliseconds there.
//
// Thread-safe: on_busy() runs on the proxy's io threads (a lock and a map lookup, no I/O); the
// rest on the controller's and the meter's threads.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "daemon/billing/meter.hpp"
#include "daemon/billing/usage_record.hpp"
#include "daemon/store/usage_store.hpp"

namespace svc::billing {

// An instance as its record needs it.
struct InstanceRun {
  std::string instance_id;  // also its sandbox's id
  std::string service;
  std::string revision;
  std::map<std::string, std::string> labels;
  std::int64_t cpu_request_millis = 0;
  std::int64_t cpu_limit_millis = 0;
  std::uint64_t memory_request_bytes = 0;
  std::uint64_t memory_limit_bytes = 0;
  std::optional<ServiceMode> mode;  // the service's choice; unset: [billing] service_mode
  std::chrono::system_clock::time_point started_at{};  // its sandbox's process started
};

// How an instance ended, as its sandbox's exit record says.
struct InstanceExit {
  std::chrono::system_clock::time_point at{};
  double cpu_seconds = 0;
  std::uint64_t memory_peak_bytes = 0;
  std::string reason;  // "Exited", "OOMKilled", "ScaledDown", ...
  // It vanished while svcd was down: it ends at its record's last checkpoint.
  bool lost = false;
  // When its process started by the shim's clock, when the exit record says: the bill's start
  // (the record opened at svcd's note of it, a few ms later).
  std::optional<std::chrono::system_clock::time_point> started_at;
};

class InstanceUsageRecorder final : public ActivitySource {
 public:
  InstanceUsageRecorder(Policy policy, const Clock& clock)
      : policy_(std::move(policy)), clock_(clock) {}

  static std::string record_id(const std::string& instance_id) { return "instance:" + instance_id; }
  static UsageRecord record_for(const InstanceRun& run, const Policy& policy);

  // In the transaction that records the instance's start.
  Result<> on_started(daemon::Store::Tx& tx, const InstanceRun& run);
  // After a restart, for each re-adopted instance: its open record's accounting carries on. A
  // busy interval open at the last checkpoint ended when svcd died (the proxy died with it): it
  // is billed up to that checkpoint.
  void adopt(const UsageRecord& open);

  // The proxy's edges; `at` on the clock's steady time, as the proxy reports them.
  void on_ready(const std::string& instance_id, std::chrono::steady_clock::time_point at);
  void on_busy(const std::string& instance_id, bool busy, std::chrono::steady_clock::time_point at);
  void on_draining(const std::string& instance_id, std::chrono::steady_clock::time_point at);
  // The proxy's totals for the instance (InstanceLoad::requests_total), read at each tick.
  void on_requests(const std::string& instance_id, std::uint64_t requests_total);
  // One request the proxy sent to the instance (ControlPlane::on_request): counted on top of
  // what its record held, so a re-adopted instance's count carries on.
  void count_request(const std::string& instance_id);

  // How a live instance is billed, for the CPU throttle of request mode: nullopt when unknown.
  struct Billing {
    ServiceMode mode = ServiceMode::kInstance;
    std::int64_t cpu_limit_millis = 0;  // 0: no quota
  };
  std::optional<Billing> billing_of(const std::string& instance_id) const;

  // In the transaction that records the instance's exit. An instance this recorder does not
  // know (svcd restarted and it was never adopted) closes from its record alone.
  Result<> on_exited(daemon::Store::Tx& tx, const std::string& instance_id,
                     const InstanceExit& exit);

  // ActivitySource: the live accounting of an open instance record, for its checkpoint.
  std::optional<Activity> activity(const std::string& record_id) override;

  const Policy& policy() const { return policy_; }
  std::size_t live() const;

 private:
  struct Live {
    Live(BusySeconds s, ServiceMode m, std::int64_t start) : seconds(s), mode(m), start_ms(start) {}
    BusySeconds seconds;
    ServiceMode mode;
    std::int64_t start_ms;
    bool ready = false;
    std::optional<std::int64_t> draining_ms;
    std::uint64_t requests = 0;
    std::int64_t cpu_limit_millis = 0;
  };
  std::int64_t wall_ms(std::chrono::steady_clock::time_point at) const;

  Policy policy_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Live> live_;  // by instance id
};

}  // namespace svc::billing
