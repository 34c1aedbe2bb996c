#pragma once
// svc.v1.Usage over a UsageBackend the daemon implements (daemon/billing): messages to calls,
// errors to codes, integers to the exact decimal strings users read. Nothing here computes a
// bill: every figure arrives computed, in integers.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/server/dispatcher.hpp"

namespace svc::api {

using UsageTime = std::chrono::system_clock::time_point;

struct UsagePricing {
  std::string currency;
  std::int64_t vcpu_second_nanos = 0;
  std::int64_t gib_second_nanos = 0;
  std::int64_t million_requests_nanos = 0;
  std::string billed_resources;  // "requests" or "limits"
  std::chrono::milliseconds task_minimum{0};
  std::string service_mode;
};

// One row of a summary, or its totals.
struct UsageSums {
  std::string name;
  std::int64_t runs = 0;
  std::int64_t open_runs = 0;
  std::int64_t run_ms = 0;
  std::int64_t billed_seconds = 0;
  std::int64_t vcpu_milli_seconds = 0;
  std::int64_t memory_mib_seconds = 0;
  std::uint64_t requests = 0;
  std::int64_t cpu_ms = 0;
  std::int64_t cost_nanos = 0;
};

enum class UsageGroupBy { kTask, kService, kRevision, kDay, kLabel };

struct UsageSummaryQuery {
  UsageGroupBy by = UsageGroupBy::kTask;
  std::string label_key;
  std::optional<UsageTime> since, until;
  int page_size = 100;
  std::string page_token;
};

struct UsageSummary {
  std::vector<UsageSums> rows;
  UsageSums total;
  std::string next_page_token;
  UsageTime until{};
};

struct UsageRunsQuery {
  std::string task, service, revision, instance;
  bool open_only = false;
  std::optional<UsageTime> since, until;
  int page_size = 100;
  std::string page_token;
};

// One usage record as the API shows it.
struct UsageRun {
  std::string id;
  bool instance = false;  // else a task run
  std::string task_id, task_name, service, revision, instance_id, schedule, trigger;
  std::map<std::string, std::string> labels;
  UsageTime start{};
  std::optional<UsageTime> end;
  bool end_estimated = false;
  std::string end_reason;
  UsageTime checkpoint{};
  std::int64_t cpu_request_millis = 0, cpu_limit_millis = 0;
  std::int64_t memory_request_bytes = 0, memory_limit_bytes = 0;
  std::string billed_resources, mode;
  std::int64_t cpu_ms = 0, memory_peak_bytes = 0, memory_average_bytes = 0, memory_sampled_ms = 0;
  std::uint64_t requests = 0;
  std::int64_t busy_ms = 0;
  bool billable = true;
  std::int64_t run_ms = 0, billed_seconds = 0, billed_vcpu_millis = 0, billed_memory_mib = 0;
  std::int64_t vcpu_milli_seconds = 0, memory_mib_seconds = 0, cost_nanos = 0;
  std::string currency;
  std::int64_t price_vcpu_second_nanos = 0, price_gib_second_nanos = 0,
               price_million_requests_nanos = 0, minimum_ms = 0;
};

class UsageBackend {
 public:
  virtual ~UsageBackend() = default;
  virtual Result<UsageSummary> summary(const UsageSummaryQuery& query) = 0;
  virtual Result<std::pair<std::vector<UsageRun>, std::string>> runs(
      const UsageRunsQuery& query) = 0;
  virtual UsagePricing pricing() const = 0;
};

void register_usage_service(Dispatcher& dispatcher, UsageBackend& backend);

// Exact decimals of the integers above, as the proto carries them (exposed for tests):
// milli-units -> "1.5"; MiB-seconds -> GiB-seconds ("0.5"); nano-units -> "0.000339".
std::string milli_decimal(std::int64_t millis);
std::string mib_to_gib_decimal(std::int64_t mib_seconds);
std::string nanos_decimal(std::int64_t nanos);

}  // namespace svc::api
