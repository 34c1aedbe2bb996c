// Task runs billed end to end at unit level: the real TaskController (with the scheduler's
// fakes for images and sandboxes, on a fake clock) writing through the real SqlTaskStore, whose
// transactions carry the usage records. A "crash" is the controller going away without a word,
// and a new one recovering from the same database.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/billing/meter.hpp"
#include "daemon/billing/task_recorder.hpp"
#include "daemon/store/task_store.hpp"
#include "scheduler/tasks/controller.hpp"
#include "tests/unit/scheduler/fakes.hpp"

using namespace svc;
using namespace svc::billing;
using namespace svc::daemon;
using namespace svc::scheduler;
using namespace svc::scheduler::test;
using namespace std::chrono_literals;

namespace {

struct Probe final : UsageProbe {
  std::map<std::string, Sample> samples;
  std::optional<Sample> sample(const std::string& id) override {
    auto it = samples.find(id);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
};

struct Harness {
  explicit Harness(std::chrono::milliseconds minimum = 60s) {
    Policy p;
    p.task_minimum = minimum;
    recorder = std::make_unique<TaskUsageRecorder>(p, clock);
    tasks = std::make_unique<SqlTaskStore>(*db, recorder.get());
    make_controller();
  }
  void make_controller() {
    tc.reset();  // releases its reservations before the new controller re-adopts them
    capacity = std::make_unique<Capacity>(Amount{100'000, 64ULL << 30});
    tc = std::make_unique<TaskController>(*tasks, images, runtime, executor, clock, *capacity,
                                          TaskController::Options{});
  }
  Task started(const std::string& name) {
    TaskSpec s;
    s.name = name;
    s.image = "busybox:1";
    s.cpu_millis = 500;
    s.memory_bytes = 256ULL << 20;
    Task t = tc->run(s).value();
    executor.run_all();
    return tc->get(t.id).value();
  }
  ExitInfo exit_now(int code, double cpu = 0.2) {
    ExitInfo i;
    i.exit_code = code;
    i.cpu_seconds = cpu;
    i.memory_peak_bytes = 8 << 20;
    i.exited_at = clock.now();
    return i;
  }
  UsageRecord record(const Task& t) {
    return usage.get(TaskUsageRecorder::record_id(t.id)).value().value();
  }
  // svcd dies (no shutdown, nothing written) and a new one recovers from the same database.
  void crash_and_recover(std::vector<SandboxInfo> sandboxes) {
    tc.reset();
    runtime.sandboxes = std::move(sandboxes);
    make_controller();
    recorder->set_recovering(true);
    REQUIRE(tc->recover(false));
    recorder->set_recovering(false);
    executor.run_all();
  }

  FakeClock clock;
  TempDir dir;
  std::unique_ptr<Store> db = Store::open(dir.path() / "svcd.db").value();
  SqlUsageStore usage{*db};
  std::unique_ptr<TaskUsageRecorder> recorder;
  std::unique_ptr<SqlTaskStore> tasks;
  FakeImages images;
  FakeRuntime runtime;
  ManualExecutor executor{clock};
  Probe probe;
  std::unique_ptr<Capacity> capacity;
  std::unique_ptr<TaskController> tc;
};

}  // namespace

TEST_CASE("a task's run opens its record with RUNNING and closes it with STOPPED",
          "[billing][recorder]") {
  Harness h;
  Task t = h.started("job");
  REQUIRE(t.state == TaskState::kRunning);
  UsageRecord open = h.record(t);
  CHECK(open.open());
  CHECK(open.start_ms == unix_millis(*t.running_at));
  CHECK(open.owner.name == "job");
  CHECK(open.owner.task_id == t.id);
  CHECK(open.cpu_request_millis == 500);
  CHECK(open.memory_limit_bytes == 256ULL << 20);
  CHECK(open.prices.vcpu_second == 11'300);
  h.clock.offset += 3'000ms;
  h.runtime.exit(t.id, h.exit_now(0, 1.25));
  UsageRecord closed = h.record(t);
  CHECK_FALSE(closed.open());
  CHECK(closed.bill.run_ms == 3'000);
  CHECK(closed.bill.billed_seconds == 60);  // Fargate's minimum
  CHECK(closed.measured.cpu_ms == 1'250);
  CHECK(closed.measured.memory_peak_bytes == 8 << 20);
  CHECK(closed.end_reason == "Exited");
  // 0.5 vCPU x 60 s at 0.0000113 + 0.25 GiB x 60 s at 0.0000012.
  CHECK(closed.bill.cost == 339'000 + 18'000);
  // Removing the task keeps its bill.
  REQUIRE(h.tc->remove(t.id, false));
  CHECK_FALSE(h.record(t).open());
  UsageQuery q;
  q.now_ms = unix_millis(h.clock.now());
  CHECK(h.usage.query(q).value().total.runs == 1);
}

TEST_CASE("with a minimum of 0 a task bills its run time rounded up", "[billing][recorder]") {
  Harness h(0s);
  Task t = h.started("short");
  h.clock.offset += 3'200ms;
  h.runtime.exit(t.id, h.exit_now(0));
  CHECK(h.record(t).bill.billed_seconds == 4);
}

TEST_CASE("a task that never ran has no record, one that could not exec is not billed",
          "[billing][recorder]") {
  Harness h;
  h.images.failing.insert("missing:1");
  TaskSpec s;
  s.name = "nopull";
  s.image = "missing:1";
  Task t = h.tc->run(s).value();
  h.executor.run_all();
  REQUIRE(h.tc->get(t.id).value().stop_reason == "ImagePullFailed");
  CHECK_FALSE(h.usage.get(TaskUsageRecorder::record_id(t.id)).value().has_value());

  Task bad = h.started("noexec");
  ExitInfo info = h.exit_now(127);
  info.error = "exec /nonexistent: No such file or directory";
  h.runtime.exit(bad.id, info);
  UsageRecord r = h.record(bad);
  CHECK_FALSE(r.open());
  CHECK_FALSE(r.billable);
  CHECK(r.bill.billed_seconds == 0);
  CHECK(r.bill.cost == 0);
  CHECK(r.end_reason == "StartFailed");
}

TEST_CASE("rm -f of a running task closes its record at the removal", "[billing][recorder]") {
  Harness h(0s);
  Task t = h.started("victim");
  h.clock.offset += 7'500ms;
  REQUIRE(h.tc->remove(t.id, true));
  UsageRecord r = h.record(t);
  CHECK_FALSE(r.open());
  CHECK(r.end_reason == "Removed");
  CHECK(r.bill.billed_seconds == 8);
}

TEST_CASE(
    "svcd killed during a run: the run that ended while it was down is billed once, "
    "from the shim's exit record",
    "[billing][recorder]") {
  Harness h(0s);
  Task t = h.started("survivor");
  UsageMeter meter(h.usage, h.probe, h.clock, {});
  h.probe.samples[t.id] = Sample{2.0, 40 << 20, 48 << 20};
  h.clock.offset += 15'000ms;
  REQUIRE(meter.checkpoint_once().value() == 1);
  // svcd dies at +20 s; the task exits at +40 s; svcd comes back at +300 s.
  h.clock.offset += 25'000ms;
  ExitInfo info = h.exit_now(0, 6.5);
  info.memory_peak_bytes = 64 << 20;
  h.clock.offset += 260'000ms;
  SandboxInfo sb;
  sb.id = t.id;
  sb.status = SandboxInfo::Status::kExited;
  sb.exit = info;
  h.crash_and_recover({sb});
  UsageRecord r = h.record(t);
  CHECK_FALSE(r.open());
  CHECK_FALSE(r.end_estimated);
  CHECK(r.bill.run_ms == 40'000);
  CHECK(r.bill.billed_seconds == 40);
  CHECK(r.measured.cpu_ms == 6'500);                // final, from the exit record
  CHECK(r.measured.memory_peak_bytes == 64 << 20);  // final, from the exit record
  CHECK(r.measured.memory_avg_bytes == 40 << 20);   // from the checkpoint before the crash
  // A second restart changes nothing: the run is billed once.
  h.crash_and_recover({sb});
  UsageQuery q;
  q.now_ms = unix_millis(h.clock.now());
  auto report = h.usage.query(q).value();
  CHECK(report.total.runs == 1);
  CHECK(report.total.billed_seconds == 40);
}

TEST_CASE("svcd killed during a run that is still running: re-adopted, billed once at its end",
          "[billing][recorder]") {
  Harness h(0s);
  Task t = h.started("long");
  h.clock.offset += 10'000ms;
  SandboxInfo sb;
  sb.id = t.id;
  sb.status = SandboxInfo::Status::kRunning;
  sb.pid = 1000;
  h.crash_and_recover({sb});
  CHECK(h.record(t).open());
  h.clock.offset += 5'000ms;
  h.runtime.exit(t.id, h.exit_now(0));
  UsageRecord r = h.record(t);
  CHECK(r.bill.run_ms == 15'000);
  CHECK(r.bill.billed_seconds == 15);
  UsageQuery q;
  q.now_ms = unix_millis(h.clock.now());
  CHECK(h.usage.query(q).value().total.runs == 1);
}

TEST_CASE("a run whose sandbox vanished while svcd was down ends at its last checkpoint",
          "[billing][recorder]") {
  Harness h(0s);
  Task t = h.started("ghost");
  UsageMeter meter(h.usage, h.probe, h.clock, {});
  h.probe.samples[t.id] = Sample{1.0, 10 << 20, 12 << 20};
  h.clock.offset += 30'000ms;
  REQUIRE(meter.checkpoint_once().value() == 1);
  h.clock.offset += 600'000ms;  // svcd down for ten minutes; the sandbox is gone
  h.crash_and_recover({});
  Task after = h.tc->get(t.id).value();
  CHECK(after.stop_reason == "Lost");
  UsageRecord r = h.record(t);
  CHECK_FALSE(r.open());
  CHECK(r.end_estimated);
  CHECK(r.bill.run_ms == 30'000);  // the last moment it was seen alive, not ten minutes more
  CHECK(r.measured.cpu_ms == 1'000);
}
