#include <catch2/catch.hpp>

#include "daemon/billing/usage_record.hpp"

using namespace svc;
using namespace svc::billing;

namespace {

UsageRecord task_run(std::int64_t run_ms, std::int64_t minimum_ms) {
  UsageRecord r;
  r.id = "task:t1";
  r.owner.kind = RunKind::kTask;
  r.start_ms = 1'800'000'000'000;
  r.end_ms = r.start_ms + run_ms;
  r.cpu_request_millis = 250;
  r.cpu_limit_millis = 250;
  r.memory_request_bytes = 512ULL << 20;
  r.memory_limit_bytes = 512ULL << 20;
  r.minimum_ms = minimum_ms;
  return r;
}

UsageRecord instance_run(std::int64_t run_ms, ServiceMode mode) {
  UsageRecord r = task_run(run_ms, 60'000);
  r.id = "instance:i1";
  r.owner.kind = RunKind::kInstance;
  r.owner.service = "hello";
  r.mode = mode;
  return r;
}

}  // namespace

TEST_CASE("tasks: run time rounded up to the second, with the minimum", "[billing][bill]") {
  CHECK(compute_bill(task_run(3'000, 60'000), 0).billed_seconds == 60);
  CHECK(compute_bill(task_run(3'000, 0), 0).billed_seconds == 3);
  CHECK(compute_bill(task_run(3'001, 0), 0).billed_seconds == 4);
  CHECK(compute_bill(task_run(2'999, 0), 0).billed_seconds == 3);
  CHECK(compute_bill(task_run(1, 0), 0).billed_seconds == 1);
  CHECK(compute_bill(task_run(0, 0), 0).billed_seconds == 0);
  CHECK(compute_bill(task_run(61'500, 60'000), 0).billed_seconds == 62);
  CHECK(compute_bill(task_run(100, 1'500), 0).billed_seconds == 2);  // a minimum rounds up too
  Bill b = compute_bill(task_run(3'012, 0), 0);
  CHECK(b.run_ms == 3'012);
  CHECK(b.vcpu_milli_seconds == 250 * 4);
  CHECK(b.memory_mib_seconds == 512 * 4);
  // 1 vCPU-s at 0.0000113 and 2 GiB-s at 0.0000012.
  CHECK(b.cpu_cost == 11'300);
  CHECK(b.memory_cost == 2'400);
  CHECK(b.cost == 13'700);
}

TEST_CASE("a run whose program never started is recorded but not billed", "[billing][bill]") {
  UsageRecord r = task_run(20, 60'000);
  r.billable = false;
  Bill b = compute_bill(r, 0);
  CHECK(b.run_ms == 20);
  CHECK(b.billed_seconds == 0);
  CHECK(b.cost == 0);
}

TEST_CASE("open runs are billed up to the time asked", "[billing][bill]") {
  UsageRecord r = task_run(0, 0);
  r.end_ms.reset();
  CHECK(compute_bill(r, r.start_ms + 10'500).billed_seconds == 11);
  r.end_ms = r.start_ms + 2'000;  // closed: its own end wins
  CHECK(compute_bill(r, r.start_ms + 10'500).billed_seconds == 2);
}

TEST_CASE("billed resources: requests, or limits where there is one", "[billing][bill]") {
  UsageRecord r = task_run(1'000, 0);
  r.cpu_request_millis = 100;
  r.cpu_limit_millis = 0;  // may use idle CPU: no limit to bill
  r.memory_request_bytes = 64ULL << 20;
  r.memory_limit_bytes = 256ULL << 20;
  CHECK(billed_vcpu_millis(r) == 100);
  CHECK(billed_memory_bytes(r) == 64ULL << 20);
  r.basis = Basis::kLimits;
  CHECK(billed_vcpu_millis(r) == 100);
  CHECK(billed_memory_bytes(r) == 256ULL << 20);
  r.cpu_limit_millis = 500;
  CHECK(billed_vcpu_millis(r) == 500);
  // Memory bills in whole MiB, rounded up.
  r.memory_limit_bytes = (1ULL << 20) + 1;
  CHECK(compute_bill(r, 0).memory_mib == 2);
  CHECK(parse_basis("limits").value() == Basis::kLimits);
  CHECK_FALSE(parse_basis("both"));
  CHECK(basis_name(Basis::kRequests) == "requests");
}

TEST_CASE("instances: no minimum, instance mode bills the lifetime", "[billing][bill]") {
  CHECK(compute_bill(instance_run(3'000, ServiceMode::kInstance), 0).billed_seconds == 3);
  CHECK(compute_bill(instance_run(59'001, ServiceMode::kInstance), 0).billed_seconds == 60);
  // Request mode with nothing served bills nothing at all.
  CHECK(compute_bill(instance_run(59'001, ServiceMode::kRequest), 0).billed_seconds == 0);
}

TEST_CASE("requests are priced per million, in nano-units", "[billing][bill]") {
  UsageRecord r = instance_run(1'000, ServiceMode::kRequest);
  r.measured.requests = 2'500;
  r.prices.million_requests = 400'000'000;  // 0.40 per million
  Bill b = compute_bill(r, 0);
  CHECK(b.requests == 2'500);
  CHECK(b.request_cost == 1'000'000);  // 0.001
  CHECK(format_money(b.request_cost) == "0.001");
}

TEST_CASE("days are UTC calendar days", "[billing][bill]") {
  CHECK(day_name(0) == "1970-01-01");
  CHECK(day_of(kMsPerDay - 1) == 0);
  CHECK(day_of(kMsPerDay) == 1);
  CHECK(day_name(day_of(1'800'000'000'000)) == "2027-01-15");
  CHECK(day_of(-1) == -1);
}
