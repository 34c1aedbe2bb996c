// The schedules' store on a real SQLite file: the shared store suite, and what survives a
// reopen.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/store/schedule_store.hpp"
#include "tests/unit/scheduler/schedules/store_suite.hpp"

using namespace svc;
using namespace svc::daemon;

TEST_CASE("SqlScheduleStore behaves as the store suite says", "[store][schedules]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlScheduleStore schedules(*store);
  scheduler::test::schedule_store_suite(schedules);
}

TEST_CASE("schedules and their runs survive a reopen", "[store][schedules]") {
  TempDir dir;
  {
    auto store = Store::open(dir.path() / "svcd.db").value();
    SqlScheduleStore schedules(*store);
    REQUIRE(schedules.insert(scheduler::test::sample_schedule("nightly")));
    auto run = scheduler::test::sample_run(1, scheduler::RunOutcome::kStarting);
    REQUIRE(schedules.record_run("nightly", run.scheduled_at, run, 10));
  }
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlScheduleStore schedules(*store);
  auto all = schedules.load_all().value();
  REQUIRE(all.size() == 1);
  REQUIRE(all[0].runs.size() == 1);
  CHECK(all[0].runs[0].outcome == scheduler::RunOutcome::kStarting);
  CHECK(all[0].handled_through == all[0].runs[0].scheduled_at);
}
