#pragma once
// Fakes for the schedule controller's ports: an in-memory ScheduleStore, a RunStarter that
// records the tasks it was asked to create, and a wall clock tests set by hand.
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "common/clock.hpp"
#include "scheduler/schedules/ports.hpp"

namespace svc::scheduler::test {

class SetClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return wall; }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(wall.time_since_epoch());
  }
  std::chrono::system_clock::time_point wall{};
};

class FakeScheduleStore final : public ScheduleStore {
 public:
  Result<> insert(const Schedule& s) override {
    if (fail_writes) return fail(Code::kUnavailable, "disk full");
    if (rows.count(s.spec.name)) return fail(Code::kAlreadyExists, "dup");
    Schedule copy = s;
    copy.runs.clear();
    copy.next_run_at.reset();
    rows[s.spec.name] = copy;
    return {};
  }
  Result<> update(const Schedule& s) override {
    if (fail_writes) return fail(Code::kUnavailable, "disk full");
    auto it = rows.find(s.spec.name);
    if (it == rows.end()) return fail(Code::kNotFound, "gone");
    it->second.paused = s.paused;
    it->second.handled_through = s.handled_through;
    return {};
  }
  Result<> remove(const std::string& name) override {
    if (fail_writes) return fail(Code::kUnavailable, "disk full");
    rows.erase(name);
    return {};
  }
  Result<std::vector<Schedule>> load_all() override {
    std::vector<Schedule> out;
    for (const auto& [n, s] : rows) out.push_back(s);
    return out;
  }
  Result<> record_run(const std::string& name, TimePoint handled_through, const RunRecord& run,
                      std::size_t keep) override {
    if (fail_writes) return fail(Code::kUnavailable, "disk full");
    auto it = rows.find(name);
    if (it == rows.end()) return fail(Code::kNotFound, "gone");
    it->second.handled_through = handled_through;
    auto& runs = it->second.runs;
    auto r = std::find_if(runs.begin(), runs.end(), [&](auto& x) { return x.seq == run.seq; });
    if (r != runs.end())
      *r = run;
    else
      runs.push_back(run);
    while (runs.size() > keep) runs.erase(runs.begin());
    ++writes;
    return {};
  }

  std::map<std::string, Schedule> rows;
  bool fail_writes = false;
  int writes = 0;
};

class FakeRunStarter final : public RunStarter {
 public:
  Result<RunTask> start(TaskSpec spec) override {
    if (on_start) on_start(spec);
    if (!fail_with.empty()) return fail(Code::kResourceExhausted, fail_with);
    for (const auto& [id, t] : tasks)
      if (t.name == spec.name) return fail(Code::kAlreadyExists, "task name {} in use", spec.name);
    RunTask t;
    t.id = "t" + std::to_string(++next_id);
    t.name = spec.name;
    t.state = TaskState::kPending;
    tasks[t.id] = t;
    specs.push_back(std::move(spec));
    return t;
  }
  std::optional<RunTask> find(const std::string& ref) override {
    if (auto it = tasks.find(ref); it != tasks.end()) return it->second;
    for (const auto& [id, t] : tasks)
      if (t.name == ref) return t;
    return std::nullopt;
  }
  Result<> stop(const std::string& id) override {
    stopped.push_back(id);
    return {};
  }
  void finish(const std::string& id, int code) {
    tasks[id].state = TaskState::kStopped;
    tasks[id].exit_code = code;
    tasks[id].stop_reason = "Exited";
  }
  void set_running(const std::string& id) { tasks[id].state = TaskState::kRunning; }

  std::map<std::string, RunTask> tasks;
  std::vector<TaskSpec> specs;
  std::vector<std::string> stopped;
  std::string fail_with;
  std::function<void(const TaskSpec&)> on_start;
  int next_id = 0;
};

}  // namespace svc::scheduler::test
