// svctl ps, stop, rm, inspect, wait, events: the verbs that act on tasks that exist.
#include <cstdint>
#include <iostream>
#include <optional>

#include <google/protobuf/util/time_util.h>

#include "api/json.hpp"
#include "cli/context.hpp"
#include "cli/task_format.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

using google::protobuf::util::TimeUtil;

void add_ps(CLI::App& app, Context& ctx) {
  struct Opts {
    bool all = false, quiet = false;
    std::vector<std::string> labels;
    std::string name;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("ps", "list tasks (running ones; -a for all)");
  cmd->add_flag("-a,--all", o->all, "also stopped tasks");
  cmd->add_flag("-q,--quiet", o->quiet, "ids only");
  cmd->add_option("--label", o->labels, "only tasks with this label (KEY=VALUE), repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--name", o->name, "only the task with this name");
  set_runner(cmd, [&ctx, o]() -> int {
    v1::ListTasksRequest req;
    req.set_all(o->all);
    req.set_name(o->name);
    for (const auto& l : o->labels) {
      auto eq = l.find('=');
      if (eq == std::string::npos)
        return ctx.report(
            Error(Code::kInvalidArgument, fmt::format("--label {}: expected KEY=VALUE", l)));
      (*req.mutable_labels())[l.substr(0, eq)] = l.substr(eq + 1);
    }
    req.set_page_size(1000);
    v1::ListTasksResponse all;
    for (;;) {
      v1::ListTasksResponse page;
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().List(call.get(), req, &page);
      if (!status.ok()) return ctx.report(status);
      for (auto& t : *page.mutable_tasks()) *all.add_tasks() = std::move(t);
      if (page.next_page_token().empty()) break;
      req.set_page_token(page.next_page_token());
    }
    if (ctx.json()) {
      print_json(std::cout, all);
      return kExitOk;
    }
    if (o->quiet) {
      for (const auto& t : all.tasks()) std::cout << t.id() << "\n";
      return kExitOk;
    }
    Table table({"ID", "NAME", "IMAGE", "COMMAND", "CREATED", "STATUS"});
    for (const auto& t : all.tasks())
      table.add({short_id(t.id()), t.name(), t.spec().image(), command_line(t), ago(t.created_at()),
                 status_line(t)});
    table.print(std::cout);
    return kExitOk;
  });
}

void add_stop(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> tasks;
    std::string grace, signal;
    bool no_wait = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "stop",
      "stop tasks: the stop signal, then SIGKILL after the grace period; waits until they stopped");
  cmd->add_option("task", o->tasks, "task ids or names")->required();
  cmd->add_option("-t,--time", o->grace, "grace period before SIGKILL (e.g. 10s; 0 = at once)");
  cmd->add_option("-s,--signal", o->signal,
                  "signal to send first (default: the task's stop signal)");
  cmd->add_flag("--no-wait", o->no_wait,
                "return once the signal is sent, without waiting for the task to stop");
  set_runner(cmd, [&ctx, o]() -> int {
    std::optional<google::protobuf::Duration> grace;
    if (!o->grace.empty()) {
      auto d = parse_duration(o->grace);
      if (!d) return ctx.report(d.error().context("--time"));
      grace = TimeUtil::MillisecondsToDuration(d->count());
    }
    int rc = kExitOk;
    // Every task gets its signal first, then the waits: stopping several tasks takes the
    // longest grace period, not their sum (as docker stop).
    std::vector<std::pair<std::string, std::string>> stopping;  // id, name
    for (const auto& id : o->tasks) {
      v1::StopTaskRequest req;
      req.set_id(id);
      req.set_signal(o->signal);
      if (grace) *req.mutable_grace_period() = *grace;
      v1::Task t;
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().Stop(call.get(), req, &t);
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (o->no_wait) {
        if (ctx.json())
          print_json(std::cout, t);
        else
          std::cout << t.name() << "\n";
        continue;
      }
      stopping.emplace_back(t.id(), t.name());
    }
    for (const auto& [id, name] : stopping) {
      // No deadline: the task's shim sends SIGKILL when the grace period ends, even if svcd is
      // restarted meanwhile, so the wait ends.
      v1::WaitTaskRequest req;
      req.set_id(id);
      v1::Task t;
      auto call = ctx.client().context(std::nullopt);
      auto status = ctx.client().tasks().Wait(call.get(), req, &t);
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        // A --rm task is removed once stopped: gone is stopped.
        if (!ctx.json()) std::cout << name << "\n";
        continue;
      }
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (ctx.json())
        print_json(std::cout, t);
      else
        std::cout << t.name() << "\n";
    }
    return rc;
  });
}

void add_rm(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> tasks;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("rm", "remove stopped tasks and their files (-f: running ones too)");
  cmd->add_option("task", o->tasks, "task ids or names")->required();
  cmd->add_flag("-f,--force", o->force, "kill the task first if it runs");
  set_runner(cmd, [&ctx, o]() -> int {
    int rc = kExitOk;
    for (const auto& id : o->tasks) {
      v1::DeleteTaskRequest req;
      req.set_id(id);
      req.set_force(o->force);
      v1::DeleteTaskResponse resp;
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().Delete(call.get(), req, &resp);
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (!ctx.json()) std::cout << id << "\n";
    }
    return rc;
  });
}

void add_inspect(CLI::App& app, Context& ctx) {
  auto tasks = std::make_shared<std::vector<std::string>>();
  auto* cmd =
      app.add_subcommand("inspect", "show everything about tasks (env values are never shown)");
  cmd->add_option("task", *tasks, "task ids or names")->required();
  set_runner(cmd, [&ctx, tasks]() -> int {
    int rc = kExitOk;
    for (const auto& id : *tasks) {
      v1::GetTaskRequest req;
      req.set_id(id);
      v1::Task t;
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().Get(call.get(), req, &t);
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (ctx.json()) {
        print_json(std::cout, t);
        continue;
      }
      Fields f;
      f.add("ID", t.id());
      f.add("Name", t.name());
      f.add("Image",
            t.spec().image() + (t.image_digest().empty() ? "" : " (" + t.image_digest() + ")"));
      f.add("Command", command_line(t, 200));
      f.add("State", state_name(t.state()));
      f.add("Status", status_line(t));
      if (t.has_exit_code()) f.add("Exit code", std::to_string(t.exit_code()));
      if (!t.stop_message().empty()) f.add("Stop message", t.stop_message());
      if (!t.queued_reason().empty()) f.add("Queued", t.queued_reason());
      const auto& res = t.resources();
      f.add("CPU", fmt::format("request {} vCPU, {}", format_cpu_millis(res.cpu_request_millis()),
                               res.cpu_limit_millis() > 0
                                   ? "limit " + format_cpu_millis(res.cpu_limit_millis()) + " vCPU"
                                   : std::string("no limit (uses idle CPU)")));
      f.add("Memory",
            fmt::format("request {}, limit {}",
                        format_size_human(static_cast<std::uint64_t>(res.memory_request_bytes())),
                        format_size_human(static_cast<std::uint64_t>(res.memory_limit_bytes()))));
      std::string env;
      for (const auto& [k, v] : t.spec().env()) env += (env.empty() ? "" : ", ") + k;
      if (!env.empty()) f.add("Env (names)", env);
      std::string labels;
      for (const auto& [k, v] : t.spec().labels())
        labels += (labels.empty() ? "" : ", ") + k + "=" + v;
      if (!labels.empty()) f.add("Labels", labels);
      f.add("Created", when(t.created_at()));
      f.add("Started", when(t.running_at()));
      f.add("Stopped", when(t.stopped_at()));
      if (t.pid()) f.add("PID", std::to_string(t.pid()));
      f.add("CPU used", fmt::format("{:.3f} s", t.usage().cpu_seconds()));
      f.add("Memory peak",
            format_size_human(static_cast<std::uint64_t>(t.usage().memory_peak_bytes())));
      f.print(std::cout);
    }
    return rc;
  });
}

void add_wait(CLI::App& app, Context& ctx) {
  auto tasks = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("wait", "wait until tasks stop; print their exit codes");
  cmd->add_option("task", *tasks, "task ids or names")->required();
  set_runner(cmd, [&ctx, tasks]() -> int {
    int rc = kExitOk;
    for (const auto& id : *tasks) {
      v1::WaitTaskRequest req;
      req.set_id(id);
      v1::Task t;
      auto call = ctx.client().context(std::nullopt);
      auto status = ctx.client().tasks().Wait(call.get(), req, &t);
      if (!status.ok()) return ctx.report(status);
      std::string why;
      rc = task_exit_code(t, &why);
      if (ctx.json())
        print_json(std::cout, t);
      else if (t.has_exit_code())
        std::cout << rc << "\n";
      else
        std::cout << t.stop_reason() << ": " << t.stop_message() << "\n";
      if (!why.empty() && t.has_exit_code() && !ctx.json()) std::cerr << "svctl: " << why << "\n";
    }
    return rc;
  });
}

void add_events(CLI::App& app, Context& ctx) {
  auto task = std::make_shared<std::string>();
  auto since = std::make_shared<std::optional<std::uint64_t>>();
  auto* cmd = app.add_subcommand("events", "follow task state changes as they happen");
  cmd->add_option("--task", *task, "only this task");
  cmd->add_option_function<std::uint64_t>(
      "--since-seq", [since](const std::uint64_t& seq) { *since = seq; },
      "first replay the events after this sequence number (the first column; 0: all that svcd "
      "still keeps), then follow");
  set_runner(cmd, [&ctx, task, since]() -> int {
    v1::TaskEventsRequest req;
    req.set_task_id(*task);
    if (*since) req.set_since_seq(**since);
    auto call = ctx.client().context(std::nullopt);
    auto reader = ctx.client().tasks().Events(call.get(), req);
    v1::TaskEvent ev;
    while (reader->Read(&ev)) {
      if (ctx.json()) {
        std::cout << api::to_json(ev) << std::endl;
        continue;
      }
      if (ev.dropped() > 0) {
        // A gap, where it is in the stream: said on stdout with the events around it, so a
        // reader of the output sees it in order.
        std::cout << fmt::format("{:>8}  -- {}", ev.seq(), ev.message()) << std::endl;
        continue;
      }
      std::string line =
          fmt::format("{:>8}  {}  {}  {:<20} {}", ev.seq(), when(ev.time()), short_id(ev.task_id()),
                      ev.task_name(), state_name(ev.state()));
      if (ev.has_exit_code()) line += fmt::format(" exit={}", ev.exit_code());
      if (!ev.stop_reason().empty()) line += " " + ev.stop_reason();
      if (!ev.message().empty()) line += "  " + ev.message();
      std::cout << line << std::endl;
    }
    auto status = reader->Finish();
    if (!status.ok()) return ctx.report(status);
    return kExitOk;
  });
}

}  // namespace

void add_task_commands(CLI::App& app, Context& ctx) {
  add_ps(app, ctx);
  add_stop(app, ctx);
  add_rm(app, ctx);
  add_inspect(app, ctx);
  add_wait(app, ctx);
  add_events(app, ctx);
}

}  // namespace svc::cli
