#include "scheduler/schedules/controller.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace svc::scheduler {

namespace {

std::string format_millis(Millis d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s % 3600 == 0 && s >= 3600) return fmt::format("{}h", s / 3600);
  if (s % 60 == 0 && s >= 60) return fmt::format("{}m", s / 60);
  if (d.count() % 1000 == 0) return fmt::format("{}s", s);
  return fmt::format("{}ms", d.count());
}

}  // namespace

ScheduleController::ScheduleController(ScheduleStore& store, RunStarter& runs, const Clock& clock,
                                       Options options)
    : store_(store), runs_(runs), clock_(clock), options_(std::move(options)) {}

void ScheduleController::set_on_change(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(fn);
}

void ScheduleController::notify() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    fn = on_change_;
  }
  if (fn) fn();
}

Millis ScheduleController::deadline_of(const Entry& e) const {
  Millis d = e.schedule.spec.starting_deadline;
  return d.count() > 0 ? d : options_.default_starting_deadline;
}

void ScheduleController::compute_next_locked(Entry& e) const {
  e.schedule.next_run_at =
      e.schedule.paused ? std::nullopt : e.zone.next_fire(e.expr, e.schedule.handled_through);
}

Result<ScheduleController::Entry*> ScheduleController::must_find_locked(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end())
    return fail(Code::kNotFound, "schedule {}: no such schedule (list them with svctl schedule ls)",
                name);
  return &it->second;
}

Result<> ScheduleController::recover() {
  auto loaded = SVC_TRY(store_.load_all());
  std::lock_guard lock(mu_);
  for (auto& s : loaded) {
    Entry e;
    // It was accepted when created: a seconds field stays valid if the config changed since.
    auto expr = parse_cron(s.spec.cron, {true});
    auto zone = TimeZone::locate(s.spec.timezone);
    if (!expr || !zone) {
      spdlog::error("schedules: schedule {} is not loaded: {}", s.spec.name,
                    (!expr ? expr.error() : zone.error()).message());
      continue;
    }
    e.expr = std::move(*expr);
    e.zone = std::move(*zone);
    for (const auto& r : s.runs) e.last_seq = std::max(e.last_seq, r.seq);
    e.schedule = std::move(s);
    for (auto& r : e.schedule.runs) {
      if (r.outcome != RunOutcome::kStarting) continue;
      // svcd stopped between recording the run and hearing back from the task controller.
      if (auto t = runs_.find(r.task_name)) {
        r.outcome = RunOutcome::kStarted;
        r.task_id = t->id;
        r.task_state = t->state;
        r.exit_code = t->exit_code;
        r.stop_reason = t->stop_reason;
      } else if (!r.manual && clock_.now() - r.scheduled_at <= deadline_of(e)) {
        // Its task was never created: create it now, still within the deadline. The name is
        // the due time's, so this cannot make a second task for it.
        if (start_task_locked(e, r))
          r.message = "svcd stopped before this run's task was created; created at restart";
      } else {
        r.outcome = RunOutcome::kFailed;
        r.message = r.manual ? "svcd stopped before this run-now's task was created; not retried "
                               "(ask again)"
                             : "svcd stopped before this run's task was created, and it is now "
                               "more than the starting deadline late: not run";
      }
      if (auto w = store_.record_run(e.schedule.spec.name, e.schedule.handled_through, r,
                                     options_.history);
          !w)
        spdlog::error("schedules: {}: record run {}: {}", e.schedule.spec.name, r.seq,
                      w.error().message());
    }
    compute_next_locked(e);
    std::string name = e.schedule.spec.name;
    entries_.insert_or_assign(std::move(name), std::move(e));
  }
  return {};
}

Result<Schedule> ScheduleController::create(ScheduleSpec spec) {
  const std::string& name = spec.name;
  if (!valid_task_name(name) || name.size() > kMaxScheduleName)
    return fail(Code::kInvalidArgument,
                "name: \"{}\" is not a valid schedule name: use 1-{} letters, digits, '_', '.' or "
                "'-', starting with a letter or digit (runs are named NAME-<unix seconds>)",
                name.substr(0, 80), kMaxScheduleName);
  CronExpr expr = SVC_TRY(parse_cron(spec.cron, {options_.allow_seconds}));
  TimeZone zone = SVC_TRY(TimeZone::locate(spec.timezone));
  spec.timezone = zone.name();
  if (spec.starting_deadline.count() < 0)
    return fail(Code::kInvalidArgument, "startingDeadline: must not be negative");
  if (!spec.task.name.empty())
    return fail(Code::kInvalidArgument,
                "task.name: a schedule names each run itself ({}-<unix seconds>): leave it empty",
                name);
  if (spec.task.labels.count(std::string(kScheduleLabel)))
    return fail(Code::kInvalidArgument, "task.labels: {} is set by the schedule itself",
                kScheduleLabel);
  if (spec.task.tty || spec.task.open_stdin || spec.task.hold_for_attach)
    return fail(Code::kInvalidArgument,
                "task: a scheduled run has no terminal or stdin (no one is there to attach)");
  spec.task.labels[std::string(kScheduleLabel)] = name;
  TaskSpec probe = spec.task;
  probe.name = run_task_name(name, clock_.now(), true);
  if (auto why = validate_spec(probe, options_.limits))
    return fail(Code::kInvalidArgument, "task: {}", *why);

  Schedule s;
  {
    std::lock_guard lock(mu_);
    if (entries_.count(name))
      return fail(Code::kAlreadyExists,
                  "schedule {} already exists: remove it first (svctl schedule rm {}) or pick "
                  "another name",
                  name, name);
    s.spec = std::move(spec);
    s.created_at = clock_.now();
    s.handled_through = s.created_at;
    SVC_TRY(store_.insert(s));
    Entry e;
    e.expr = std::move(expr);
    e.zone = std::move(zone);
    e.schedule = s;
    compute_next_locked(e);
    s.next_run_at = e.schedule.next_run_at;
    entries_.emplace(s.spec.name, std::move(e));
  }
  notify();
  return s;
}

Result<Schedule> ScheduleController::get(const std::string& name) {
  std::lock_guard lock(mu_);
  Entry* e = SVC_TRY(must_find_locked(name));
  refresh_runs_locked(*e);
  return e->schedule;
}

std::vector<Schedule> ScheduleController::list() {
  std::lock_guard lock(mu_);
  std::vector<Schedule> out;
  for (auto& [name, e] : entries_) {
    refresh_runs_locked(e);
    out.push_back(e.schedule);
  }
  return out;
}

Result<> ScheduleController::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  SVC_TRY(must_find_locked(name));
  SVC_TRY(store_.remove(name));
  entries_.erase(name);
  return {};
}

Result<Schedule> ScheduleController::pause(const std::string& name) {
  std::lock_guard lock(mu_);
  Entry* e = SVC_TRY(must_find_locked(name));
  if (e->schedule.paused) return e->schedule;
  Schedule s = e->schedule;
  s.paused = true;
  SVC_TRY(store_.update(s));
  e->schedule.paused = true;
  compute_next_locked(*e);
  return e->schedule;
}

Result<Schedule> ScheduleController::resume(const std::string& name) {
  Schedule out;
  {
    std::lock_guard lock(mu_);
    Entry* e = SVC_TRY(must_find_locked(name));
    if (!e->schedule.paused) return e->schedule;
    Schedule s = e->schedule;
    s.paused = false;
    // The due times that passed while paused are not caught up on.
    s.handled_through = std::max(s.handled_through, clock_.now());
    SVC_TRY(store_.update(s));
    e->schedule.paused = false;
    e->schedule.handled_through = s.handled_through;
    compute_next_locked(*e);
    out = e->schedule;
  }
  notify();
  return out;
}

Result<RunRecord> ScheduleController::run_now(const std::string& name) {
  std::lock_guard lock(mu_);
  Entry* e = SVC_TRY(must_find_locked(name));
  return fire_locked(*e, clock_.now(), true, e->schedule.handled_through);
}

std::optional<TimePoint> ScheduleController::tick() {
  std::lock_guard lock(mu_);
  TimePoint now = clock_.now();
  std::optional<TimePoint> next;
  for (auto& [name, e] : entries_) {
    handle_due_locked(e, now);
    if (e.schedule.next_run_at && (!next || *e.schedule.next_run_at < *next))
      next = e.schedule.next_run_at;
  }
  return next;
}

std::optional<TimePoint> ScheduleController::next_due() const {
  std::lock_guard lock(mu_);
  std::optional<TimePoint> next;
  for (const auto& [name, e] : entries_)
    if (e.schedule.next_run_at && (!next || *e.schedule.next_run_at < *next))
      next = e.schedule.next_run_at;
  return next;
}

void ScheduleController::handle_due_locked(Entry& e, TimePoint now) {
  if (e.schedule.paused) return;
  std::optional<TimePoint> first = e.zone.next_fire(e.expr, e.schedule.handled_through);
  if (!first || *first > now) return;
  const Millis deadline = deadline_of(e);
  const TimePoint window = now - deadline;
  // The due time to run: the latest one at or before now that is within the deadline.
  std::optional<TimePoint> run_due;
  if (*first >= window) {
    run_due = first;
  } else if (auto w = e.zone.next_fire(e.expr, window - std::chrono::nanoseconds(1));
             w && *w <= now) {
    run_due = w;
  }
  if (run_due)
    for (auto n = e.zone.next_fire(e.expr, *run_due); n && *n <= now;
         n = e.zone.next_fire(e.expr, *n))
      run_due = n;

  if (!run_due || *first < *run_due) {
    RunRecord missed;
    missed.seq = e.last_seq + 1;
    missed.scheduled_at = *first;
    missed.handled_at = now;
    missed.outcome = RunOutcome::kMissed;
    missed.message =
        run_due ? fmt::format(
                      "runs due from {} until {} were missed (svcd was down or late): only the "
                      "latest due time within the starting deadline ({}) runs",
                      e.zone.format_local(*first), e.zone.format_local(*run_due),
                      format_millis(deadline))
                : fmt::format(
                      "runs due from {} on were missed (svcd was down or late): each was more "
                      "than the starting deadline ({}) ago when svcd could start it",
                      e.zone.format_local(*first), format_millis(deadline));
    TimePoint handled = run_due ? *first : now;
    if (auto w = record_locked(e, handled, missed); !w)
      spdlog::error("schedules: {}: record a missed run: {}", e.schedule.spec.name,
                    w.error().message());
  }
  if (run_due) {
    if (auto r = fire_locked(e, *run_due, false, *run_due); !r)
      spdlog::error("schedules: {}: run due at {}: {}", e.schedule.spec.name,
                    e.zone.format_local(*run_due), r.error().message());
  }
}

bool ScheduleController::active_locked(Entry& e, std::vector<std::string>* task_ids) {
  refresh_runs_locked(e);
  bool any = false;
  for (const auto& r : e.schedule.runs)
    if (!r.task_id.empty() && r.task_state && *r.task_state != TaskState::kStopped) {
      any = true;
      if (task_ids) task_ids->push_back(r.task_id);
    }
  return any;
}

Result<RunRecord> ScheduleController::fire_locked(Entry& e, TimePoint due, bool manual,
                                                  TimePoint handled_through) {
  RunRecord r;
  r.seq = e.last_seq + 1;
  r.scheduled_at = due;
  r.manual = manual;
  r.task_name = run_task_name(e.schedule.spec.name, due, manual);
  // Two run-nows within one millisecond: the next free millisecond names the second.
  for (TimePoint t = due; manual && runs_.find(r.task_name);)
    r.task_name = run_task_name(e.schedule.spec.name, t += Millis(1), true);
  if (!manual && e.schedule.spec.overlap != Overlap::kAllow) {
    std::vector<std::string> active;
    active_locked(e, &active);
    if (!active.empty() && e.schedule.spec.overlap == Overlap::kForbid) {
      r.outcome = RunOutcome::kSkipped;
      r.handled_at = clock_.now();
      r.message = fmt::format("the previous run {} still runs (overlap forbid)", active.back());
      r.task_name.clear();
      SVC_TRY(record_locked(e, handled_through, r));
      return r;
    }
    // Replace: the running ones get their stop signal (then SIGKILL after their grace period)
    // before the new run is created.
    for (const auto& id : active) {
      if (auto s = runs_.stop(id); !s)
        spdlog::warn("schedules: {}: stop the previous run {}: {}", e.schedule.spec.name, id,
                     s.error().message());
      r.message += fmt::format("{}replaced {}", r.message.empty() ? "" : "; ", id);
    }
  }
  r.outcome = RunOutcome::kStarting;
  r.handled_at = clock_.now();
  // Durable before the task exists: a crash from here on loses this run, never repeats it.
  SVC_TRY(record_locked(e, handled_through, r));

  auto task = start_task_locked(e, r);
  if (auto w = record_locked(e, handled_through, r); !w)
    spdlog::error("schedules: {}: record run {} ({}): {}", e.schedule.spec.name, r.seq,
                  outcome_name(r.outcome), w.error().message());
  if (!task)
    return tl::unexpected(
        std::move(task.error())
            .context(fmt::format("schedule {}: start run {}", e.schedule.spec.name, r.task_name)));
  return r;
}

Result<RunTask> ScheduleController::start_task_locked(const Entry& e, RunRecord& r) {
  TaskSpec spec = e.schedule.spec.task;
  spec.name = r.task_name;
  auto task = runs_.start(std::move(spec));
  r.handled_at = clock_.now();
  if (task) {
    r.outcome = RunOutcome::kStarted;
    r.task_id = task->id;
    r.task_state = task->state;
    r.exit_code = task->exit_code;
    r.stop_reason = task->stop_reason;
  } else {
    r.outcome = RunOutcome::kFailed;
    r.message = task.error().message();
  }
  return task;
}

Result<> ScheduleController::record_locked(Entry& e, TimePoint handled_through,
                                           const RunRecord& run) {
  auto w = store_.record_run(e.schedule.spec.name, handled_through, run, options_.history);
  // In memory it is handled even when the write failed: retrying at once would spin, and
  // starting it without the record could run it twice after a restart.
  e.schedule.handled_through = std::max(e.schedule.handled_through, handled_through);
  e.last_seq = std::max(e.last_seq, run.seq);
  auto& runs = e.schedule.runs;
  auto it =
      std::find_if(runs.begin(), runs.end(), [&](const RunRecord& x) { return x.seq == run.seq; });
  if (it != runs.end())
    *it = run;
  else
    runs.push_back(run);
  if (runs.size() > options_.history)
    runs.erase(runs.begin(),
               runs.begin() + static_cast<std::ptrdiff_t>(runs.size() - options_.history));
  compute_next_locked(e);
  return w;
}

void ScheduleController::refresh_runs_locked(Entry& e) {
  for (auto& r : e.schedule.runs) {
    if (r.task_id.empty() || (r.task_state && *r.task_state == TaskState::kStopped)) continue;
    auto t = runs_.find(r.task_id);
    if (!t) continue;  // removed: its last known state stays
    if (t->state == r.task_state && t->exit_code == r.exit_code) continue;
    r.task_state = t->state;
    r.exit_code = t->exit_code;
    r.stop_reason = t->stop_reason;
    // Kept, so describe still shows the result once the task itself is removed.
    if (auto w = store_.record_run(e.schedule.spec.name, e.schedule.handled_through, r,
                                   options_.history);
        !w)
      spdlog::warn("schedules: {}: record run {}: {}", e.schedule.spec.name, r.seq,
                   w.error().message());
  }
}

}  // namespace svc::scheduler
