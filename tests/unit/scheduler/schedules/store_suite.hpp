#pragma once
// What every ScheduleStore must do, run against the fake (unit_scheduler) and SQLite
// (unit_daemon): insert refuses a taken name, record_run writes the run with handled_through and
// keeps the newest runs, rewrites a run by seq, update keeps runs, remove drops the runs too.
#include <catch2/catch.hpp>

#include "scheduler/schedules/ports.hpp"

namespace svc::scheduler::test {

inline Schedule sample_schedule(const std::string& name) {
  Schedule s;
  s.spec.name = name;
  s.spec.cron = "*/5 * * * *";
  s.spec.timezone = "Europe/Paris";
  s.spec.overlap = Overlap::kReplace;
  s.spec.starting_deadline = Millis(90'000);
  s.spec.task.image = "busybox";
  s.spec.task.args = {"echo", "hi"};
  s.spec.task.env = {{"A", "1"}};
  s.spec.task.labels = {{"svc.schedule", name}};
  s.spec.task.cpu_millis = 100;
  s.created_at = TimePoint(std::chrono::milliseconds(1'790'000'000'000));
  s.handled_through = s.created_at;
  return s;
}

inline RunRecord sample_run(std::int64_t seq, RunOutcome outcome) {
  RunRecord r;
  r.seq = seq;
  r.scheduled_at = TimePoint(std::chrono::seconds(1'790'000'000 + seq * 300));
  r.handled_at = r.scheduled_at + std::chrono::milliseconds(3);
  r.outcome = outcome;
  r.task_name = "n-" + std::to_string(seq);
  if (outcome == RunOutcome::kStarted) {
    r.task_id = "id" + std::to_string(seq);
    r.task_state = TaskState::kStopped;
    r.exit_code = 7;
    r.stop_reason = "Exited";
  }
  r.message = "m" + std::to_string(seq);
  return r;
}

inline void schedule_store_suite(ScheduleStore& store) {
  REQUIRE(store.insert(sample_schedule("a")));
  auto dup = store.insert(sample_schedule("a"));
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code() == Code::kAlreadyExists);
  REQUIRE(store.insert(sample_schedule("b")));

  for (int i = 1; i <= 5; ++i) {
    RunRecord r = sample_run(i, i % 2 ? RunOutcome::kStarted : RunOutcome::kMissed);
    REQUIRE(store.record_run("a", r.scheduled_at, r, 3));
  }
  // Rewriting seq 5 (STARTING -> STARTED, say) replaces it.
  RunRecord again = sample_run(5, RunOutcome::kFailed);
  REQUIRE(store.record_run("a", again.scheduled_at, again, 3));
  CHECK(store.record_run("nope", again.scheduled_at, again, 3).error().code() == Code::kNotFound);

  Schedule paused = sample_schedule("b");
  paused.paused = true;
  paused.handled_through += std::chrono::seconds(10);
  REQUIRE(store.update(paused));

  auto all = store.load_all().value();
  REQUIRE(all.size() == 2);
  const Schedule& a = all[0].spec.name == "a" ? all[0] : all[1];
  const Schedule& b = all[0].spec.name == "b" ? all[0] : all[1];
  Schedule want = sample_schedule("a");
  CHECK(a.spec.cron == want.spec.cron);
  CHECK(a.spec.timezone == "Europe/Paris");
  CHECK(a.spec.overlap == Overlap::kReplace);
  CHECK(a.spec.starting_deadline == Millis(90'000));
  CHECK(a.spec.task.image == "busybox");
  CHECK(a.spec.task.args == want.spec.task.args);
  CHECK(a.spec.task.env == want.spec.task.env);
  CHECK(a.spec.task.labels == want.spec.task.labels);
  CHECK(a.spec.task.cpu_millis == 100);
  CHECK(a.created_at == want.created_at);
  CHECK(a.handled_through == sample_run(5, RunOutcome::kFailed).scheduled_at);
  REQUIRE(a.runs.size() == 3);
  CHECK(a.runs[0].seq == 3);
  CHECK(a.runs[0].outcome == RunOutcome::kStarted);
  CHECK(a.runs[0].task_id == "id3");
  CHECK(a.runs[0].task_state == TaskState::kStopped);
  CHECK(a.runs[0].exit_code == 7);
  CHECK(a.runs[0].stop_reason == "Exited");
  CHECK(a.runs[0].message == "m3");
  CHECK(a.runs[0].scheduled_at == sample_run(3, RunOutcome::kStarted).scheduled_at);
  CHECK(a.runs[0].handled_at == sample_run(3, RunOutcome::kStarted).handled_at);
  CHECK(a.runs[1].outcome == RunOutcome::kMissed);
  CHECK_FALSE(a.runs[1].exit_code);
  CHECK(a.runs[2].seq == 5);
  CHECK(a.runs[2].outcome == RunOutcome::kFailed);
  CHECK(b.paused);
  CHECK(b.handled_through == sample_schedule("b").handled_through + std::chrono::seconds(10));
  CHECK(b.runs.empty());

  REQUIRE(store.remove("a"));
  all = store.load_all().value();
  REQUIRE(all.size() == 1);
  CHECK(all[0].spec.name == "b");
  // A new schedule of the same name starts with no history.
  REQUIRE(store.insert(sample_schedule("a")));
  auto reloaded = store.load_all().value();
  for (const auto& s : reloaded) CHECK(s.runs.empty());
}

}  // namespace svc::scheduler::test
