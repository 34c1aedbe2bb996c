// svctl exec: a process in a running task's sandbox (docker exec), and svctl attach: svctl's
// terminal joined to a running task's stdio. Both exit with the process's exit code.
#include <unistd.h>

#include <iostream>

#include "cli/context.hpp"
#include "cli/stdio_session.hpp"

namespace svc::cli {

namespace {

// What a session's end means for svctl's exit code. exec and attach: the process's exit code;
// a process that never ran: 126 when it could not be run, 127 when it was not found (as a shell).
int session_exit(Context& ctx, const SessionResult& r, const std::string& what) {
  switch (r.end) {
    case SessionResult::End::kDetached:
      std::cerr << "\r\nsvctl: detached from " << what << "\n";
      return kExitOk;
    case SessionResult::End::kExited:
      if (!r.error.empty()) std::cerr << "svctl: " << what << ": " << r.error << "\n";
      if (r.exit_code) return *r.exit_code;
      std::cerr << "svctl: " << what << ": its exit code is not known\n";
      return kExitRunFailed;
    case SessionResult::End::kBroken:
      break;
  }
  if (r.status.ok()) {
    std::cerr << "svctl: " << what << ": the stream ended without an exit\n";
    return kExitFailed;
  }
  return ctx.report(r.status);
}

void set_size(v1::TerminalSize* size) {
  auto [rows, cols] = terminal_size(0);
  if (!rows || !cols) std::tie(rows, cols) = terminal_size(1);
  if (rows && cols) {
    size->set_rows(rows);
    size->set_cols(cols);
  }
}

}  // namespace

// `svctl exec TASK CMD...`: everything after TASK is the command, its flags too (`svctl exec box
// ls -l`). CLI11 would read those flags as svctl's, so a "--" is put after TASK when the user
// gave none: after it, CLI11 takes every word as a positional.
void separate_exec_command(std::vector<char*>& args) {
  static char separator[] = "--";
  auto takes_value = [](std::string_view a) {
    return a == "--host" || a == "-H" || a == "--token" || a == "-o" || a == "--output" ||
           a == "-e" || a == "--env" || a == "-w" || a == "--workdir" || a == "-u" || a == "--user";
  };
  std::size_t i = 1;
  for (; i < args.size() && args[i]; ++i) {
    std::string_view a = args[i];
    if (a == "exec") break;
    if (a == "--") return;
    if (takes_value(a))
      ++i;
    else if (!a.starts_with('-'))
      return;  // another command
  }
  for (++i; i < args.size() && args[i]; ++i) {
    std::string_view a = args[i];
    if (a == "--") return;  // before the task: CLI11 reads the task and command after it
    if (takes_value(a)) {
      ++i;
      continue;
    }
    if (a.starts_with('-')) continue;
    // a is the task
    if (i + 1 < args.size() && args[i + 1] && std::string_view(args[i + 1]) != "--")
      args.insert(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, separator);
    return;
  }
}

// Attaches to task (its id) and runs the session: `svctl attach` and `svctl run -i/-t`.
SessionResult attach_session(Context& ctx, const std::string& task, bool stdin, bool tty,
                             bool start, std::function<bool(int)> on_interrupt) {
  auto call = ctx.client().context(std::nullopt);
  auto stream = ctx.client().tasks().Attach(call.get());
  v1::AttachRequest first;
  first.set_id(task);
  first.set_stdin(stdin);
  first.set_start(start);
  if (tty) set_size(first.mutable_size());
  SessionResult r;
  if (!stream->Write(first)) {
    r.status = stream->Finish();
    return r;
  }
  SessionOptions o;
  o.forward_stdin = stdin;
  o.raw = tty && stdin;
  o.detach_keys = tty && stdin;
  o.on_interrupt = std::move(on_interrupt);
  return run_session(*stream, *call, o);
}

void add_exec_commands(CLI::App& app, Context& ctx) {
  struct ExecOpts {
    bool interactive = false, tty = false;
    std::vector<std::string> env;
    std::string workdir, user, task;
    std::vector<std::string> command;
  };
  auto o = std::make_shared<ExecOpts>();
  auto* cmd = app.add_subcommand(
      "exec", "run a process in a running task: svctl exec [-i] [-t] TASK [--] COMMAND ARGS...");
  cmd->add_flag("-i,--interactive", o->interactive, "send svctl's stdin to the process");
  cmd->add_flag("-t,--tty", o->tty, "give the process a terminal (raw mode, resize)");
  cmd->add_option("--env,-e", o->env, "set a variable: KEY=VALUE")->allow_extra_args(false);
  cmd->add_option("--workdir,-w", o->workdir, "working directory (default: the task's)");
  cmd->add_option("--user,-u", o->user, "user: uid, uid:gid or a name (default: the task's)");
  cmd->add_option("task", o->task, "the task: id, id prefix or name")->required();
  // Everything after the task (separate_exec_command puts a "--" before it).
  cmd->add_option("command", o->command, "the program to run and its arguments, after TASK");
  set_runner(cmd, [&ctx, o]() -> int {
    if (o->tty && o->interactive && !::isatty(0)) {
      std::cerr << "svctl: exec -it: the input is not a terminal (drop -t, or run svctl in one)\n";
      return kExitUsage;
    }
    v1::ExecRequest first;
    first.set_id(o->task);
    for (const auto& a : o->command) first.add_args(a);
    if (first.args().empty()) {
      std::cerr << "svctl: exec: give the command to run after the task\n";
      return kExitUsage;
    }
    for (const auto& e : o->env) {
      auto eq = e.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "svctl: --env " << e << ": expected KEY=VALUE\n";
        return kExitUsage;
      }
      (*first.mutable_env())[e.substr(0, eq)] = e.substr(eq + 1);
    }
    first.set_workdir(o->workdir);
    first.set_user(o->user);
    first.set_tty(o->tty);
    first.set_stdin(o->interactive);
    if (o->tty) set_size(first.mutable_size());
    auto call = ctx.client().context(std::nullopt);
    auto stream = ctx.client().tasks().Exec(call.get());
    if (!stream->Write(first)) return ctx.report(stream->Finish());
    SessionOptions so;
    so.forward_stdin = o->interactive;
    so.raw = o->tty && o->interactive;
    so.detach_keys = false;  // an exec'd process ends with its stream: nothing to detach from
    auto r = run_session(*stream, *call, so);
    return session_exit(ctx, r, "exec in " + o->task);
  });

  struct AttachOpts {
    bool no_stdin = false;
    std::string task;
  };
  auto a = std::make_shared<AttachOpts>();
  auto* att = app.add_subcommand(
      "attach",
      "join a running task's terminal or output: svctl attach TASK (Ctrl-P Ctrl-Q detaches)");
  att->add_flag("--no-stdin", a->no_stdin, "only watch: do not send svctl's input");
  att->add_option("task", a->task, "the task: id, id prefix or name")->required();
  set_runner(att, [&ctx, a]() -> int {
    v1::GetTaskRequest get;
    get.set_id(a->task);
    v1::Task task;
    {
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().Get(call.get(), get, &task);
      if (!status.ok()) return ctx.report(status);
    }
    bool stdin = !a->no_stdin && (task.spec().stdin() || task.spec().tty());
    bool tty = task.spec().tty();
    if (stdin && tty && !::isatty(0)) {
      std::cerr << "svctl: attach: task " << task.name()
                << " has a terminal and svctl's input is not one (use --no-stdin to watch)\n";
      return kExitUsage;
    }
    auto r = attach_session(ctx, task.id(), stdin, tty, true, nullptr);
    return session_exit(ctx, r, "task " + task.name());
  });
}

}  // namespace svc::cli
