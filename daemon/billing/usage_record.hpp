#pragma once
// A usage record: one per task run and per service instance, opened when the run starts (in the
// same store transaction as the run's start), checkpointed while it runs and closed once when it
// ends. It carries who to bill, what the run reserved, what was measured, and the prices and
// rules it started under — so a bill never changes when svcd.toml does later.
//
// Plain data and the pure arithmetic of the bill; daemon/store persists records, the meter
// (meter.hpp) fills in the measured part.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "daemon/billing/busy_seconds.hpp"
#include "daemon/billing/money.hpp"

namespace svc::billing {

// Which of a run's resources are billed: what it requested (admission reserved it for the run)
// or what its cgroup limited it to ([billing] billed_resources).
enum class Basis { kRequests = 1, kLimits = 2 };
std::string_view basis_name(Basis basis);  // "requests", "limits"
Result<Basis> parse_basis(std::string_view text);

// How a service's instances bill (Cloud Run's two CPU allocation modes).
//   instance: every second an instance exists.
//   request:  start-up, shut-down and the seconds with at least one request in flight; the
//             instance's CPU is throttled outside requests.
enum class ServiceMode { kInstance = 1, kRequest = 2 };
std::string_view mode_name(ServiceMode mode);  // "instance", "request"
Result<ServiceMode> parse_mode(std::string_view text);

struct Prices {
  Nanos vcpu_second = 11'300;            // 0.0000113 per vCPU-second (Fargate, Linux/x86)
  Nanos gib_second = 1'200;              // 0.0000012 per GiB-second
  Nanos million_requests = 400'000'000;  // 0.40 per million requests (Cloud Run)
  std::string currency = "USD";
  bool operator==(const Prices&) const = default;
};

// The rules a run starts under ([billing] in svcd.toml).
struct Policy {
  Prices prices;
  Basis basis = Basis::kRequests;
  std::chrono::milliseconds task_minimum{60'000};     // per task run; none for instances
  ServiceMode service_mode = ServiceMode::kInstance;  // services that do not choose
};

enum class RunKind { kTask = 1, kInstance = 2 };

// Who a run bills to. Tasks: task_id and name (the task's name); a task started by a schedule
// or a trigger (issue 12) also names it. Instances: service, revision and instance id.
struct Owner {
  RunKind kind = RunKind::kTask;
  std::string task_id;
  std::string name;
  std::string service;
  std::string revision;
  std::string instance;
  std::string schedule;
  std::string trigger;
  bool operator==(const Owner&) const = default;
};

// What the cgroup and the proxy measured. CPU and peak memory are final at close (the shim's
// exit record); the average is time-weighted over the meter's samples.
struct Measured {
  std::int64_t cpu_ms = 0;
  std::uint64_t memory_peak_bytes = 0;
  std::uint64_t memory_avg_bytes = 0;
  std::int64_t memory_sampled_ms = 0;  // how much of the run the average covers
  std::uint64_t requests = 0;
  std::int64_t busy_ms = 0;
  bool operator==(const Measured&) const = default;
};

// The bill of a run: final once closed, "so far" while open.
struct Bill {
  std::int64_t run_ms = 0;
  std::int64_t billed_seconds = 0;
  std::int64_t vcpu_millis = 0;  // the billed vCPU (requests or limits), milli-vCPU
  std::int64_t memory_mib = 0;   // the billed memory, MiB rounded up
  std::int64_t vcpu_milli_seconds = 0;
  std::int64_t memory_mib_seconds = 0;
  std::uint64_t requests = 0;
  Nanos cpu_cost = 0;
  Nanos memory_cost = 0;
  Nanos request_cost = 0;
  Nanos cost = 0;
  bool operator==(const Bill&) const = default;
};

struct UsageRecord {
  std::string id;  // "task:<task id>", "instance:<instance id>": stable, never reused
  Owner owner;
  std::map<std::string, std::string> labels;
  std::int64_t start_ms = 0;           // wall clock, unix ms
  std::optional<std::int64_t> end_ms;  // unset while the run is open
  std::int64_t cpu_request_millis = 0;
  std::int64_t cpu_limit_millis = 0;  // 0: no CPU limit
  std::uint64_t memory_request_bytes = 0;
  std::uint64_t memory_limit_bytes = 0;
  Basis basis = Basis::kRequests;
  ServiceMode mode = ServiceMode::kInstance;  // instances only
  Prices prices;
  std::int64_t minimum_ms = 0;  // tasks: the minimum billed run
  Measured measured;
  BusyState busy;                  // request mode
  std::int64_t checkpoint_ms = 0;  // last time svcd saw the run alive and wrote it
  // false: nothing of the user's ran (the program could not be executed): recorded, not billed.
  bool billable = true;
  // svcd could not see the end (the sandbox vanished while it was down): billed up to the last
  // checkpoint, the last moment the run was known to be alive.
  bool end_estimated = false;
  std::string end_reason;  // the task's stop reason ("Exited", "OOMKilled", ...)
  Bill bill;               // set at close

  bool open() const { return !end_ms.has_value(); }
};

// The resources billed, by the record's basis. Under "limits", a resource without a limit (a task
// that may use idle CPU) bills its request: there is no limit to bill.
std::int64_t billed_vcpu_millis(const UsageRecord& record);
std::uint64_t billed_memory_bytes(const UsageRecord& record);

// The bill of record as if it ended at end_ms (its own end once closed).
//   tasks:              max(run time rounded up to the second, minimum), 0 when not billable
//   instance mode:      run time rounded up to the second
//   request mode:       the busy seconds (busy_seconds.hpp), an open interval up to end_ms
// Cost = vCPU-s x price + GiB-s x price + requests x price / 1e6, each rounded to the nearest
// nano-unit once per record.
Bill compute_bill(const UsageRecord& record, std::int64_t end_ms);

inline constexpr std::int64_t kMsPerDay = 86'400'000;
inline constexpr std::int64_t kMsPerHour = 3'600'000;
// UTC day number of a unix ms time, and its name ("2026-01-31").
std::int64_t day_of(std::int64_t unix_ms);
// Hour number since the epoch (floor division, as day_of).
std::int64_t hour_of(std::int64_t unix_ms);
// v / unit rounded toward minus infinity (unit > 0), and toward plus infinity.
std::int64_t floor_div(std::int64_t v, std::int64_t unit);
inline std::int64_t ceil_div_signed(std::int64_t v, std::int64_t unit) {
  return -floor_div(-v, unit);
}
std::string day_name(std::int64_t day);

}  // namespace svc::billing
