// The usage counters of /metrics are the store's sums: closed runs by kind, and the open ones.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/billing/usage_metrics.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::billing;
using namespace svc::daemon;

namespace {

constexpr std::int64_t kT0 = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

UsageRecord task_run(const std::string& id, std::int64_t start) {
  UsageRecord r;
  r.id = "task:" + id;
  r.owner.task_id = id;
  r.owner.name = id;
  r.start_ms = start;
  r.cpu_request_millis = r.cpu_limit_millis = 500;
  r.memory_request_bytes = r.memory_limit_bytes = 512ULL << 20;
  r.minimum_ms = 60'000;
  return r;
}

bool has(const std::string& text, const std::string& line) {
  INFO(text);
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("usage metrics: counters are the store's sums by kind", "[billing][metrics]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlUsageStore usage(*store);
  metrics::Registry registry;
  register_usage_metrics(registry, usage, "EUR");

  // Nothing yet: zeros, not missing series.
  std::string empty = registry.render();
  CHECK(has(empty, "svc_usage_runs_total{kind=\"task\"} 0"));
  CHECK(has(empty, "svc_usage_open_runs{kind=\"instance\"} 0"));

  // Two closed task runs (3.2 s billed 60 s by the minimum; 70.5 s billed 71 s), one open.
  UsageRecord a = task_run("a", kT0);
  a.end_ms = kT0 + 3'200;
  a.measured.cpu_ms = 1'500;
  UsageRecord b = task_run("b", kT0 + 1'000);
  b.end_ms = kT0 + 1'000 + 70'500;
  {
    Store::Tx tx = store->begin().value();
    REQUIRE(SqlUsageStore::insert_closed_in(tx, a));
    REQUIRE(SqlUsageStore::insert_closed_in(tx, b));
    REQUIRE(tx.commit());
  }
  REQUIRE(usage.open(task_run("c", kT0 + 5'000)).value());
  // An instance in instance mode: 10 s, 1000 requests.
  UsageRecord i = task_run("", kT0);
  i.id = "instance:hello-00001-aa";
  i.owner = {};
  i.owner.kind = RunKind::kInstance;
  i.owner.service = "hello";
  i.owner.revision = "hello-00001";
  i.owner.instance = "hello-00001-aa";
  i.minimum_ms = 0;
  i.end_ms = kT0 + 10'000;
  i.measured.requests = 1000;
  {
    Store::Tx tx = store->begin().value();
    REQUIRE(SqlUsageStore::insert_closed_in(tx, i));
    REQUIRE(tx.commit());
  }

  // The very next scrape reads the store anew (no time-based cache).
  std::string text = registry.render();
  CHECK(has(text, "svc_usage_runs_total{kind=\"task\"} 2"));
  CHECK(has(text, "svc_usage_runs_total{kind=\"instance\"} 1"));
  CHECK(has(text, "svc_usage_run_seconds_total{kind=\"task\"} 73.7"));
  CHECK(has(text, "svc_usage_billed_seconds_total{kind=\"task\"} 131"));
  CHECK(has(text, "svc_usage_billed_seconds_total{kind=\"instance\"} 10"));
  CHECK(has(text, "svc_usage_billed_vcpu_seconds_total{kind=\"task\"} 65.5"));
  CHECK(has(text, "svc_usage_billed_memory_byte_seconds_total{kind=\"task\"} " +
                      std::to_string(131LL * (512LL << 20))));
  CHECK(has(text, "svc_usage_cpu_seconds_total{kind=\"task\"} 1.5"));
  CHECK(has(text, "svc_usage_requests_total{kind=\"instance\"} 1000"));
  CHECK(has(text, "svc_usage_open_runs{kind=\"task\"} 1"));
  // 65.5 vCPU-s x 0.0000113 + 65.5 GiB-s x 0.0000012 = 0.00074015 + 0.0000786
  CHECK(has(text, "svc_usage_cost_total{kind=\"task\",currency=\"EUR\"} 0.00081875"));
}
