// The schedule controller on fakes and a hand-set clock: firing on time and only once, overlap
// allow/forbid/replace, the starting deadline, the missed-run rule across a restart (and a crash
// between recording a run and creating its task), pause/resume, run-now, rm while a run runs,
// the run history and its results.
#include <catch2/catch.hpp>

#include <cstdio>

#include "scheduler/schedules/controller.hpp"
#include "tests/unit/scheduler/schedules/fakes.hpp"
#include "tests/unit/scheduler/schedules/store_suite.hpp"

namespace sch = svc::scheduler;
using sch::test::FakeRunStarter;
using sch::test::FakeScheduleStore;
using sch::test::SetClock;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

TimePoint utc(const char* text) {
  int y, mo, d, h, mi, s;
  REQUIRE(std::sscanf(text, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6);
  return TimePoint{std::chrono::sys_days{std::chrono::year{y} / mo / d}} + std::chrono::hours{h} +
         minutes{mi} + seconds{s};
}

sch::ScheduleSpec spec(const char* name, const char* cron,
                       sch::Overlap overlap = sch::Overlap::kAllow) {
  sch::ScheduleSpec s;
  s.name = name;
  s.cron = cron;
  s.overlap = overlap;
  s.task.image = "busybox";
  s.task.args = {"echo", "hi"};
  return s;
}

struct Rig {
  FakeScheduleStore store;
  FakeRunStarter runs;
  SetClock clock;
  sch::ScheduleController::Options options;
  std::unique_ptr<sch::ScheduleController> c;

  Rig() {
    clock.wall = utc("2026-03-25T10:00:30");
    restart();
  }
  // A new controller on the same store and task controller, as after svcd restarts.
  void restart() {
    c = std::make_unique<sch::ScheduleController>(store, runs, clock, options);
    REQUIRE(c->recover());
  }
  void at(const char* t) { clock.wall = utc(t); }
};

std::int64_t unix_s(TimePoint t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

}  // namespace

TEST_CASE("schedules: create validates everything and stores nothing on error", "[schedules]") {
  Rig r;
  using Catch::Contains;
  auto bad = [&](sch::ScheduleSpec s) {
    auto c = r.c->create(std::move(s));
    REQUIRE_FALSE(c);
    return c.error().message();
  };
  CHECK_THAT(bad(spec("", "* * * * *")), Contains("name"));
  CHECK_THAT(bad(spec("has space", "* * * * *")), Contains("not a valid schedule name"));
  CHECK_THAT(bad(spec("a-very-long-schedule-name-that-cannot-fit-x", "* * * * *")),
             Contains("1-40"));
  CHECK_THAT(bad(spec("s", "61 * * * *")), Contains("minute: 61 is out of range"));
  CHECK_THAT(bad(spec("s", "*/5 * * * * *")), Contains("allow_seconds"));
  auto tz = spec("s", "* * * * *");
  tz.timezone = "Europe/Nowhere";
  CHECK_THAT(bad(tz), Contains("Europe/Nowhere"));
  auto named = spec("s", "* * * * *");
  named.task.name = "fixed";
  CHECK_THAT(bad(named), Contains("task.name"));
  auto labelled = spec("s", "* * * * *");
  labelled.task.labels["svc.schedule"] = "other";
  CHECK_THAT(bad(labelled), Contains("svc.schedule"));
  auto no_image = spec("s", "* * * * *");
  no_image.task.image.clear();
  CHECK_THAT(bad(no_image), Contains("spec.image"));
  auto negative = spec("s", "* * * * *");
  negative.starting_deadline = sch::Millis(-1);
  CHECK_THAT(bad(negative), Contains("startingDeadline"));
  CHECK(r.store.rows.empty());
  CHECK(r.c->list().empty());

  REQUIRE(r.c->create(spec("s", "* * * * *")));
  auto dup = r.c->create(spec("s", "@hourly"));
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code() == svc::Code::kAlreadyExists);
  CHECK(r.store.rows.at("s").spec.cron == "* * * * *");
}

TEST_CASE("schedules: a run fires at its due time, once, as a labelled task", "[schedules]") {
  Rig r;
  auto s = r.c->create(spec("backup", "* * * * *"));
  REQUIRE(s);
  CHECK(s->spec.timezone == "UTC");
  CHECK(s->next_run_at == utc("2026-03-25T10:01:00"));
  CHECK(r.c->next_due() == utc("2026-03-25T10:01:00"));

  r.at("2026-03-25T10:00:59");
  CHECK(r.c->tick() == utc("2026-03-25T10:01:00"));
  CHECK(r.runs.specs.empty());

  // The run is durable (as STARTING, with the due time handled) before its task is created.
  bool recorded_first = false;
  r.runs.on_start = [&](const sch::TaskSpec&) {
    const auto& row = r.store.rows.at("backup");
    recorded_first = row.handled_through == utc("2026-03-25T10:01:00") && row.runs.size() == 1 &&
                     row.runs[0].outcome == sch::RunOutcome::kStarting;
  };
  r.at("2026-03-25T10:01:00");
  CHECK(r.c->tick() == utc("2026-03-25T10:02:00"));
  CHECK(recorded_first);
  REQUIRE(r.runs.specs.size() == 1);
  const auto& t = r.runs.specs[0];
  CHECK(t.name == "backup-" + std::to_string(unix_s(utc("2026-03-25T10:01:00"))));
  CHECK(t.labels.at("svc.schedule") == "backup");
  CHECK(t.image == "busybox");
  CHECK(t.args == std::vector<std::string>{"echo", "hi"});

  // Ticking again at the same instant does not run it again.
  CHECK(r.c->tick() == utc("2026-03-25T10:02:00"));
  CHECK(r.runs.specs.size() == 1);

  auto got = r.c->get("backup").value();
  REQUIRE(got.runs.size() == 1);
  CHECK(got.runs[0].outcome == sch::RunOutcome::kStarted);
  CHECK(got.runs[0].task_id == "t1");
  CHECK(got.runs[0].scheduled_at == utc("2026-03-25T10:01:00"));
  CHECK(r.store.rows.at("backup").runs[0].outcome == sch::RunOutcome::kStarted);

  // Its result shows (and is stored) once the task ends.
  r.runs.finish("t1", 3);
  got = r.c->get("backup").value();
  CHECK(got.runs[0].task_state == sch::TaskState::kStopped);
  CHECK(got.runs[0].exit_code == 3);
  CHECK(r.store.rows.at("backup").runs[0].exit_code == 3);
}

TEST_CASE("schedules: overlap allow, forbid and replace", "[schedules]") {
  Rig r;
  SECTION("allow runs them side by side") {
    REQUIRE(r.c->create(spec("a", "* * * * *", sch::Overlap::kAllow)));
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.set_running("t1");
    r.at("2026-03-25T10:02:00");
    r.c->tick();
    CHECK(r.runs.specs.size() == 2);
    CHECK(r.runs.stopped.empty());
  }
  SECTION("forbid skips while the previous run still runs") {
    REQUIRE(r.c->create(spec("f", "* * * * *", sch::Overlap::kForbid)));
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.set_running("t1");
    r.at("2026-03-25T10:02:00");
    r.c->tick();
    CHECK(r.runs.specs.size() == 1);
    auto s = r.c->get("f").value();
    REQUIRE(s.runs.size() == 2);
    CHECK(s.runs[1].outcome == sch::RunOutcome::kSkipped);
    CHECK_THAT(s.runs[1].message, Catch::Contains("t1 still runs"));
    CHECK(s.next_run_at == utc("2026-03-25T10:03:00"));
    r.runs.finish("t1", 0);
    r.at("2026-03-25T10:03:00");
    r.c->tick();
    CHECK(r.runs.specs.size() == 2);
  }
  SECTION("replace stops the running one, then starts") {
    REQUIRE(r.c->create(spec("r", "* * * * *", sch::Overlap::kReplace)));
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.set_running("t1");
    r.at("2026-03-25T10:02:00");
    r.c->tick();
    CHECK(r.runs.stopped == std::vector<std::string>{"t1"});
    CHECK(r.runs.specs.size() == 2);
    auto s = r.c->get("r").value();
    CHECK_THAT(s.runs[1].message, Catch::Contains("replaced t1"));
    // Nothing is stopped when the previous run has ended.
    r.runs.finish("t1", 0);
    r.runs.finish("t2", 0);
    r.at("2026-03-25T10:03:00");
    r.c->tick();
    CHECK(r.runs.stopped.size() == 1);
    CHECK(r.runs.specs.size() == 3);
  }
}

TEST_CASE("schedules: the starting deadline and late runs", "[schedules]") {
  Rig r;
  SECTION("a run later than the deadline is skipped and recorded as missed") {
    auto s = spec("h", "0 * * * *");
    s.starting_deadline = minutes(5);
    REQUIRE(r.c->create(s));
    r.at("2026-03-25T11:10:00");  // 11:00 is ten minutes ago
    CHECK(r.c->tick() == utc("2026-03-25T12:00:00"));
    CHECK(r.runs.specs.empty());
    auto got = r.c->get("h").value();
    REQUIRE(got.runs.size() == 1);
    CHECK(got.runs[0].outcome == sch::RunOutcome::kMissed);
    CHECK(got.runs[0].scheduled_at == utc("2026-03-25T11:00:00"));
    CHECK_THAT(got.runs[0].message, Catch::Contains("starting deadline (5m)"));
    CHECK(r.c->tick() == utc("2026-03-25T12:00:00"));
    CHECK(r.c->get("h").value().runs.size() == 1);
  }
  SECTION("within the deadline, only the latest due time runs, once") {
    REQUIRE(r.c->create(spec("m", "* * * * *")));  // default deadline: 5 minutes
    r.at("2026-03-25T10:30:20");
    r.c->tick();
    REQUIRE(r.runs.specs.size() == 1);
    CHECK(r.runs.specs[0].name == "m-" + std::to_string(unix_s(utc("2026-03-25T10:30:00"))));
    auto got = r.c->get("m").value();
    REQUIRE(got.runs.size() == 2);
    CHECK(got.runs[0].outcome == sch::RunOutcome::kMissed);
    CHECK(got.runs[0].scheduled_at == utc("2026-03-25T10:01:00"));
    CHECK(got.runs[1].outcome == sch::RunOutcome::kStarted);
    r.c->tick();
    CHECK(r.runs.specs.size() == 1);
  }
  SECTION("a start that fails is recorded, and the next due time still runs") {
    REQUIRE(r.c->create(spec("f", "* * * * *")));
    r.runs.fail_with = "no capacity";
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    auto got = r.c->get("f").value();
    REQUIRE(got.runs.size() == 1);
    CHECK(got.runs[0].outcome == sch::RunOutcome::kFailed);
    CHECK_THAT(got.runs[0].message, Catch::Contains("no capacity"));
    r.runs.fail_with.clear();
    r.at("2026-03-25T10:02:00");
    r.c->tick();
    CHECK(r.runs.specs.size() == 1);
  }
}

TEST_CASE("schedules: missed runs while svcd was down run once at start", "[schedules]") {
  Rig r;
  REQUIRE(r.c->create(spec("nightly", "30 2 * * *")));
  r.at("2026-03-26T02:30:00");
  r.c->tick();
  REQUIRE(r.runs.specs.size() == 1);

  // svcd is down from 02:31 on the 26th; it starts again at 02:33 on the 27th, within the
  // five-minute deadline of the 27th's run.
  r.c.reset();
  r.at("2026-03-27T02:33:00");
  r.restart();
  CHECK(r.runs.specs.size() == 1);  // recover() alone starts nothing
  r.c->tick();
  REQUIRE(r.runs.specs.size() == 2);
  CHECK(r.runs.specs[1].name == "nightly-" + std::to_string(unix_s(utc("2026-03-27T02:30:00"))));

  // And restarting again at the same moment does not run it a second time.
  r.restart();
  r.c->tick();
  CHECK(r.runs.specs.size() == 2);

  // Down past the deadline: missed, not run.
  r.at("2026-03-28T03:00:00");
  r.restart();
  r.c->tick();
  CHECK(r.runs.specs.size() == 2);
  auto got = r.c->get("nightly").value();
  CHECK(got.runs.back().outcome == sch::RunOutcome::kMissed);
  CHECK(got.next_run_at == utc("2026-03-29T02:30:00"));
}

TEST_CASE("schedules: a crash between recording a run and creating its task", "[schedules]") {
  Rig r;
  REQUIRE(r.c->create(spec("c", "* * * * *")));
  FakeScheduleStore at_crash;
  SECTION("the task was not created: it is created at restart, once, within the deadline") {
    r.runs.on_start = [&](const sch::TaskSpec&) { at_crash = r.store; };
    r.runs.fail_with = "svcd killed";  // what the store saw when svcd died is at_crash
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.fail_with.clear();
    r.runs.on_start = nullptr;
    r.store = at_crash;
    r.at("2026-03-25T10:01:20");
    r.restart();
    r.c->tick();
    REQUIRE(r.runs.specs.size() == 1);
    CHECK(r.runs.specs[0].name == "c-" + std::to_string(unix_s(utc("2026-03-25T10:01:00"))));
    auto got = r.c->get("c").value();
    REQUIRE(got.runs.size() == 1);
    CHECK(got.runs[0].outcome == sch::RunOutcome::kStarted);
    CHECK_THAT(got.runs[0].message, Catch::Contains("created at restart"));
    // A second restart finds it by name and does not create it again.
    r.restart();
    r.c->tick();
    CHECK(r.runs.specs.size() == 1);
  }
  SECTION("the task was not created and the deadline passed: failed, not run") {
    r.runs.on_start = [&](const sch::TaskSpec&) { at_crash = r.store; };
    r.runs.fail_with = "svcd killed";
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.fail_with.clear();
    r.runs.on_start = nullptr;
    r.store = at_crash;
    r.at("2026-03-25T10:01:20");
    r.options.default_starting_deadline = seconds(10);
    r.restart();
    auto got = r.c->get("c").value();
    REQUIRE_FALSE(got.runs.empty());
    CHECK(got.runs[0].outcome == sch::RunOutcome::kFailed);
    CHECK_THAT(got.runs[0].message, Catch::Contains("more than the starting deadline late"));
    CHECK(r.runs.specs.empty());
  }
  SECTION("the task was created: recovery finds it by its name") {
    r.runs.on_start = [&](const sch::TaskSpec&) { at_crash = r.store; };
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.on_start = nullptr;
    r.store = at_crash;
    r.restart();
    r.c->tick();
    CHECK(r.runs.specs.size() == 1);
    auto got = r.c->get("c").value();
    REQUIRE(got.runs.size() == 1);
    CHECK(got.runs[0].outcome == sch::RunOutcome::kStarted);
    CHECK(got.runs[0].task_id == "t1");
  }
}

TEST_CASE("schedules: pause, resume, run-now, rm while running, history", "[schedules]") {
  Rig r;
  REQUIRE(r.c->create(spec("p", "* * * * *", sch::Overlap::kForbid)));
  SECTION("no run fires while paused; resume does not catch up") {
    auto paused = r.c->pause("p").value();
    CHECK(paused.paused);
    CHECK_FALSE(paused.next_run_at);
    CHECK(r.store.rows.at("p").paused);
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    CHECK(r.runs.specs.empty());
    r.at("2026-03-25T10:02:30");
    auto resumed = r.c->resume("p").value();
    CHECK_FALSE(resumed.paused);
    CHECK(resumed.next_run_at == utc("2026-03-25T10:03:00"));
    r.c->tick();
    CHECK(r.runs.specs.empty());
    r.at("2026-03-25T10:03:00");
    r.c->tick();
    CHECK(r.runs.specs.size() == 1);
  }
  SECTION("run-now starts a run whatever the overlap policy") {
    r.at("2026-03-25T10:00:40");
    auto run = r.c->run_now("p").value();
    CHECK(run.manual);
    CHECK(run.outcome == sch::RunOutcome::kStarted);
    r.runs.set_running(run.task_id);
    auto again = r.c->run_now("p").value();
    CHECK(again.outcome == sch::RunOutcome::kStarted);
    CHECK(r.runs.specs.size() == 2);
    CHECK_THAT(r.runs.specs[0].name, Catch::EndsWith("-now"));
    CHECK(r.c->next_due() == utc("2026-03-25T10:01:00"));  // the schedule itself is unchanged
    auto missing = r.c->run_now("nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == svc::Code::kNotFound);
  }
  SECTION("rm while a run runs: the run goes on, no new run starts") {
    r.at("2026-03-25T10:01:00");
    r.c->tick();
    r.runs.set_running("t1");
    REQUIRE(r.c->remove("p"));
    CHECK(r.runs.stopped.empty());
    CHECK(r.store.rows.empty());
    CHECK(r.c->get("p").error().code() == svc::Code::kNotFound);
    r.at("2026-03-25T10:02:00");
    CHECK_FALSE(r.c->tick());
    CHECK(r.runs.specs.size() == 1);
    CHECK(r.c->remove("p").error().code() == svc::Code::kNotFound);
  }
  SECTION("the history keeps the last runs") {
    for (int m = 1; m <= 15; ++m) {
      char t[32];
      std::snprintf(t, sizeof t, "2026-03-25T10:%02d:00", m);
      r.at(t);
      r.c->tick();
      r.runs.finish("t" + std::to_string(m), 0);
    }
    auto got = r.c->get("p").value();
    CHECK(got.runs.size() == sch::kRunHistory);
    CHECK(got.runs.back().scheduled_at == utc("2026-03-25T10:15:00"));
    CHECK(r.store.rows.at("p").runs.size() == sch::kRunHistory);
    r.restart();
    CHECK(r.c->get("p").value().runs.size() == sch::kRunHistory);
    r.at("2026-03-25T10:16:00");
    r.c->tick();
    CHECK(r.runs.specs.size() == 16);
  }
}

TEST_CASE("schedules: a seconds field when the daemon allows it", "[schedules]") {
  Rig r;
  r.options.allow_seconds = true;
  r.restart();
  REQUIRE(r.c->create(spec("fast", "*/2 * * * * *")));
  CHECK(r.c->next_due() == utc("2026-03-25T10:00:32"));
  r.at("2026-03-25T10:00:32");
  r.c->tick();
  CHECK(r.runs.specs.size() == 1);
}

TEST_CASE("schedules: the fake store passes the store suite", "[schedules][store]") {
  FakeScheduleStore store;
  sch::test::schedule_store_suite(store);
}
