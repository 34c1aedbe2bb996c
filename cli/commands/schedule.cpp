// svctl schedule create|ls|describe|rm|pause|resume|run-now: tasks run on a cron schedule. The
// task flags are `svctl run`'s (task_flags.hpp); each run is a task of its own, named
// NAME-<unix seconds> and labelled svc.schedule=NAME (`svctl ps -a -l svc.schedule=NAME`).
#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "cli/service_format.hpp"
#include "cli/task_flags.hpp"
#include "cli/task_format.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

using google::protobuf::util::TimeUtil;

struct CreateOpts : TaskFlags {
  std::string schedule, cron, timezone, overlap = "allow", starting_deadline;
};

std::string outcome_text(v1::ScheduleRun::Outcome o) {
  std::string n = v1::ScheduleRun::Outcome_Name(o);
  return n.empty() ? "-" : n;
}

std::string overlap_text(v1::Schedule::Overlap o) {
  switch (o) {
    case v1::Schedule::FORBID:
      return "forbid";
    case v1::Schedule::REPLACE:
      return "replace";
    default:
      return "allow";
  }
}

// "STOPPED (exit 0)", "RUNNING", or what became of a run that has no task.
std::string result_text(const v1::ScheduleRun& r) {
  if (r.task_id().empty()) return outcome_text(r.outcome());
  std::string s = state_name(r.task_state());
  if (r.has_exit_code()) s += fmt::format(" (exit {})", r.exit_code());
  if (!r.stop_reason().empty() && r.stop_reason() != "Exited") s += " " + r.stop_reason();
  return s;
}

// How long after its due time svcd created the run's task.
std::string lateness(const v1::ScheduleRun& r) {
  if (r.manual() || r.outcome() != v1::ScheduleRun::STARTED) return "-";
  auto ms = TimeUtil::TimestampToMilliseconds(r.handled_at()) -
            TimeUtil::TimestampToMilliseconds(r.scheduled_at());
  return fmt::format("{}ms", ms);
}

grpc::Status by_name(Context& ctx, const std::string& verb, const std::string& name,
                     v1::Schedule* out) {
  auto call = ctx.client().context();
  if (verb == "pause") {
    v1::PauseScheduleRequest req;
    req.set_name(name);
    return ctx.client().schedules().Pause(call.get(), req, out);
  }
  if (verb == "resume") {
    v1::ResumeScheduleRequest req;
    req.set_name(name);
    return ctx.client().schedules().Resume(call.get(), req, out);
  }
  v1::GetScheduleRequest req;
  req.set_name(name);
  return ctx.client().schedules().Get(call.get(), req, out);
}

void describe(const v1::Schedule& s) {
  Fields f;
  f.add("Name", s.name());
  f.add("Cron", s.cron());
  f.add("Timezone", s.timezone().empty() ? "UTC" : s.timezone());
  f.add("Overlap", overlap_text(s.overlap()));
  f.add("Starting deadline",
        s.has_starting_deadline() ? duration_text(s.starting_deadline()) : "svcd's default");
  f.add("Status", s.paused() ? "paused" : "active");
  f.add("Next run", s.paused() ? "- (paused)" : when(s.next_run_at()));
  f.add("Image", s.task().image());
  std::string command;
  for (const auto& a : s.task().entrypoint()) command += (command.empty() ? "" : " ") + a;
  for (const auto& a : s.task().args()) command += (command.empty() ? "" : " ") + a;
  f.add("Command", command.empty() ? "(the image's)" : command);
  std::string labels;
  for (const auto& [k, v] : s.task().labels()) labels += (labels.empty() ? "" : ", ") + k + "=" + v;
  f.add("Labels", labels);
  f.add("Created", when(s.created_at()));
  f.print(std::cout);
  std::cout << "\nLast runs:\n";
  if (s.last_runs().empty()) {
    std::cout << "  none yet\n";
    return;
  }
  Table t({"DUE", "OUTCOME", "TASK", "RESULT", "LATE", "MESSAGE"});
  for (const auto& r : s.last_runs())
    t.add({when(r.scheduled_at()) + (r.manual() ? " (run-now)" : ""), outcome_text(r.outcome()),
           r.task_name().empty() ? "-" : r.task_name(), result_text(r), lateness(r),
           r.message().empty() ? "-" : r.message()});
  t.print(std::cout);
}

void add_create(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<CreateOpts>();
  std::shared_ptr<TaskFlags> flags = o;
  auto* cmd = parent.add_subcommand(
      "create", "create a schedule: svctl schedule create NAME --cron SPEC [flags] IMAGE [-- CMD]");
  cmd->add_option("--cron", o->cron,
                  "when: 5 fields (minute hour day-of-month month day-of-week, e.g. \"*/5 * * * "
                  "*\") or @hourly, @daily, @weekly, @monthly, @yearly")
      ->required();
  cmd->add_option("--timezone,--tz", o->timezone,
                  "IANA time zone the cron fields are read in (default UTC), e.g. Europe/Paris");
  cmd->add_option("--overlap", o->overlap,
                  "a run due while the last still runs: allow, forbid (skip it), replace (stop "
                  "the last one)")
      ->check(CLI::IsMember({"allow", "forbid", "replace"}))
      ->capture_default_str();
  cmd->add_option("--starting-deadline", o->starting_deadline,
                  "a run that cannot start this long after its due time is missed (default 5m)");
  add_task_spec_flags(cmd, flags);
  cmd->add_flag("--rm", o->rm, "remove each run's task once it stopped");
  cmd->add_option("name", o->schedule, "the schedule's name (runs are NAME-<unix seconds>)")
      ->required();
  cmd->add_option("image", o->image, "the image each run runs")->required();
  // No positionals_at_end (as run has): NAME comes before the flags, so the command goes after
  // "--", as the usage line says.
  cmd->add_option("command", o->command, "command and arguments (after --)");
  set_runner(cmd, [&ctx, o]() -> int {
    auto task = build_task_spec(*o);
    if (!task) {
      std::cerr << "svctl: " << task.error().message() << "\n";
      return kExitUsage;
    }
    v1::CreateScheduleRequest req;
    v1::Schedule* s = req.mutable_schedule();
    s->set_name(o->schedule);
    s->set_cron(o->cron);
    s->set_timezone(o->timezone);
    s->set_overlap(o->overlap == "forbid"    ? v1::Schedule::FORBID
                   : o->overlap == "replace" ? v1::Schedule::REPLACE
                                             : v1::Schedule::ALLOW);
    if (!o->starting_deadline.empty()) {
      auto d = parse_duration(o->starting_deadline);
      if (!d) {
        std::cerr << "svctl: --starting-deadline " << o->starting_deadline << ": "
                  << d.error().message() << "\n";
        return kExitUsage;
      }
      *s->mutable_starting_deadline() = TimeUtil::MillisecondsToDuration(d->count());
    }
    *s->mutable_task() = *task;
    v1::Schedule out;
    auto call = ctx.client().context();
    auto status = ctx.client().schedules().Create(call.get(), req, &out);
    if (!status.ok()) {
      Error e = ctx.client().error(status);
      // The task's fields come back as "task: spec.x: ..." : name the flag, as run does.
      std::string msg = e.message();
      if (msg.starts_with("task: ")) e = Error(e.code(), msg.substr(6));
      return ctx.report(name_the_flag(e, *o));
    }
    if (ctx.json()) {
      print_json(std::cout, out);
      return kExitOk;
    }
    std::cout << "schedule " << out.name() << " created; next run " << when(out.next_run_at())
              << "\n";
    return kExitOk;
  });
}

void add_ls(CLI::App& parent, Context& ctx) {
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = parent.add_subcommand("ls", "list schedules");
  cmd->alias("list");
  cmd->add_flag("-q,--quiet", *quiet, "names only");
  set_runner(cmd, [&ctx, quiet]() -> int {
    v1::ListSchedulesResponse all;
    auto call = ctx.client().context();
    auto status = ctx.client().schedules().List(call.get(), v1::ListSchedulesRequest(), &all);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, all);
      return kExitOk;
    }
    if (*quiet) {
      for (const auto& s : all.schedules()) std::cout << s.name() << "\n";
      return kExitOk;
    }
    Table t({"NAME", "CRON", "TIMEZONE", "OVERLAP", "STATUS", "NEXT RUN", "LAST RUN", "RESULT"});
    for (const auto& s : all.schedules()) {
      const v1::ScheduleRun* last = s.last_runs().empty() ? nullptr : &*s.last_runs().rbegin();
      t.add({s.name(), s.cron(), s.timezone().empty() ? "UTC" : s.timezone(),
             overlap_text(s.overlap()), s.paused() ? "paused" : "active",
             s.paused() ? "-" : when(s.next_run_at()), last ? ago(last->scheduled_at()) : "-",
             last ? result_text(*last) : "-"});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

void add_by_name(CLI::App& parent, Context& ctx, const std::string& verb, const char* help) {
  auto name = std::make_shared<std::string>();
  auto* cmd = parent.add_subcommand(verb, help);
  if (verb == "describe") cmd->alias("inspect");
  cmd->add_option("name", *name, "schedule name")->required();
  set_runner(cmd, [&ctx, name, verb]() -> int {
    v1::Schedule s;
    auto status = by_name(ctx, verb, *name, &s);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, s);
      return kExitOk;
    }
    if (verb == "describe")
      describe(s);
    else
      std::cout << "schedule " << s.name() << " " << (s.paused() ? "paused" : "resumed")
                << (s.paused() ? "" : "; next run " + when(s.next_run_at())) << "\n";
    return kExitOk;
  });
}

void add_rm(CLI::App& parent, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = parent.add_subcommand(
      "rm", "remove schedules (a run in progress goes on: it is a task, `svctl stop` it)");
  cmd->add_option("names", *names, "schedule names")->required();
  set_runner(cmd, [&ctx, names]() -> int {
    int rc = kExitOk;
    for (const auto& n : *names) {
      v1::DeleteScheduleRequest req;
      req.set_name(n);
      v1::DeleteScheduleResponse resp;
      auto call = ctx.client().context();
      auto status = ctx.client().schedules().Delete(call.get(), req, &resp);
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (!ctx.json()) std::cout << n << "\n";
    }
    return rc;
  });
}

void add_run_now(CLI::App& parent, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = parent.add_subcommand(
      "run-now", "start a run now, whatever the overlap policy (prints the run's task id)");
  cmd->add_option("name", *name, "schedule name")->required();
  set_runner(cmd, [&ctx, name]() -> int {
    v1::RunScheduleNowRequest req;
    req.set_name(*name);
    v1::ScheduleRun run;
    auto call = ctx.client().context();
    auto status = ctx.client().schedules().RunNow(call.get(), req, &run);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json())
      print_json(std::cout, run);
    else
      std::cout << run.task_id() << "\n";
    return kExitOk;
  });
}

}  // namespace

void add_schedule_commands(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("schedule", "run tasks on a cron schedule");
  cmd->require_subcommand(1);
  add_create(*cmd, ctx);
  add_ls(*cmd, ctx);
  add_by_name(*cmd, ctx, "describe", "show a schedule and its last runs with their results");
  add_rm(*cmd, ctx);
  add_by_name(*cmd, ctx, "pause", "stop starting runs until resumed");
  add_by_name(*cmd, ctx, "resume", "start runs again (due times passed while paused are skipped)");
  add_run_now(*cmd, ctx);
}

}  // namespace svc::cli
