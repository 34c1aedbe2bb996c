// svctl run: create a task and, unless -d, follow its output (or, with -i/-t, join its stdio)
// and exit with its exit code.
// Ctrl-C stops the task (its stop signal, then SIGKILL after the grace period); a second Ctrl-C
// detaches and leaves it running.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/context.hpp"
#include "cli/log_stream.hpp"
#include "cli/stdio_session.hpp"
#include "cli/task_flags.hpp"
#include "cli/task_format.hpp"

namespace svc::cli {

namespace {

// The task's flags (task_flags.hpp) and run's own.
struct RunOpts : TaskFlags {
  bool detach = false;
};

// Ctrl-C while attached: the first stops the task, the second detaches.
std::atomic<int> g_interrupts{0};
int g_wake_fd = -1;
extern "C" void on_sigint(int) {
  g_interrupts.fetch_add(1);
  char c = 1;
  ssize_t ignored = ::write(g_wake_fd, &c, 1);
  (void)ignored;
}

}  // namespace

// Pulls the image with progress when svcd does not have it yet (pull.cpp).
int ensure_image(Context& ctx, const std::string& image);
// exec.cpp: attaches svctl's stdio to the task's.
SessionResult attach_session(Context& ctx, const std::string& task, bool stdin, bool tty,
                             bool start, std::function<bool(int)> on_interrupt);

namespace {

// The exit code of a run, from the task as Wait answered it (task_exit_code says how).
int final_exit(Context& ctx, const v1::Task& final_task) {
  if (ctx.json()) print_json(std::cout, final_task);
  std::string why;
  int code = task_exit_code(final_task, &why);
  if (!why.empty()) std::cerr << "svctl: " << why << "\n";
  return code;
}

// svctl run -d returns once the task runs, as docker run -d does, so the next command finds it
// RUNNING (or a start that failed is an error here, not a surprise later). A task Run queued
// for capacity (--queue) returns at once: it may wait for long, and a task Run admitted is
// never queued later. Race-free: the task's events are replayed from the start of what svcd
// keeps, so a RUNNING that came before the subscription is seen too.
v1::Task wait_started(Context& ctx, const v1::Task& created) {
  if (created.state() >= v1::Task::RUNNING || !created.queued_reason().empty()) return created;
  v1::TaskEventsRequest req;
  req.set_task_id(created.id());
  req.set_since_seq(0);
  auto call = ctx.client().context(std::nullopt);
  auto reader = ctx.client().tasks().Events(call.get(), req);
  v1::TaskEvent ev;
  // A gap (what happened is no longer kept) ends the wait too: the record says it.
  while (reader->Read(&ev) && ev.dropped() == 0 && ev.state() < v1::Task::RUNNING) {
  }
  call->TryCancel();
  (void)reader->Finish();
  v1::GetTaskRequest get;
  get.set_id(created.id());
  v1::Task now;
  auto get_call = ctx.client().context();
  if (!ctx.client().tasks().Get(get_call.get(), get, &now).ok()) return created;
  return now;
}

// svctl run -i / -t: svctl's stdio joined to the task's until it exits (Ctrl-P Ctrl-Q
// detaches from a terminal; without one, Ctrl-C stops the task and a second detaches).
int run_attached(Context& ctx, const RunOpts& o, const v1::Task& task) {
  auto stop_task = [&ctx, &task](int count) {
    if (count > 1) return true;
    std::cerr << "svctl: stopping task " << task.name()
              << " (Ctrl-C again to detach and leave it running)\n";
    v1::StopTaskRequest stop;
    stop.set_id(task.id());
    v1::Task ignored;
    auto call = ctx.client().context();
    auto status = ctx.client().tasks().Stop(call.get(), stop, &ignored);
    if (!status.ok()) std::cerr << "svctl: stop: " << status.error_message() << "\n";
    return false;
  };
  // With a terminal, Ctrl-C is a keystroke for the task (its terminal makes it a SIGINT).
  auto r = attach_session(ctx, task.id(), true, o.tty, true,
                          o.tty ? std::function<bool(int)>() : stop_task);
  if (r.end == SessionResult::End::kDetached) {
    std::cerr << "\r\nsvctl: detached; task " << task.name() << " keeps running (svctl attach "
              << task.name() << ")\n";
    return kExitOk;
  }
  if (r.end == SessionResult::End::kBroken && !r.status.ok() &&
      r.status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
    int rc = ctx.report(r.status);
    return rc == kExitUnreachable ? rc : kExitRunFailed;
  }
  // The exit (or a task that stopped before it could be attached to): its record says how.
  v1::WaitTaskRequest wreq;
  wreq.set_id(task.id());
  v1::Task final_task;
  auto call = ctx.client().context(std::nullopt);
  auto status = ctx.client().tasks().Wait(call.get(), wreq, &final_task);
  if (!status.ok()) {
    int rc = ctx.report(status);
    return rc == kExitUnreachable ? rc : kExitRunFailed;
  }
  return final_exit(ctx, final_task);
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RunOpts>();
  std::shared_ptr<TaskFlags> flags = o;
  auto* cmd = app.add_subcommand("run", "run a task: svctl run [flags] IMAGE [-- COMMAND ARGS...]");
  cmd->add_option("--name", o->name, "a unique name (default: task-<id>)");
  add_task_spec_flags(cmd, flags);
  cmd->add_flag("-d,--detach", o->detach, "print the task id and return once it runs (a start that fails is an error)");
  cmd->add_flag("--rm", o->rm, "remove the task once it stopped and its exit code was read");
  cmd->add_flag("-i,--interactive", o->interactive, "send svctl's stdin to the task");
  cmd->add_flag("-t,--tty", o->tty,
                "give the task a terminal (raw mode, resize; Ctrl-P Ctrl-Q detaches)");
  cmd->add_option("image", o->image, "the image to run")->required();
  cmd->add_option("command", o->command, "command and arguments (after --)");
  cmd->positionals_at_end();
  set_runner(cmd, [&ctx, o]() -> int {
    auto spec = build_task_spec(*o);
    if (!spec) {
      std::cerr << "svctl: " << spec.error().message() << "\n";
      return kExitUsage;
    }
    if (o->tty && o->interactive && !o->detach && !::isatty(0)) {
      std::cerr << "svctl: run -it: the input is not a terminal (drop -t, or run svctl in one)\n";
      return kExitUsage;
    }
    if (int rc = ensure_image(ctx, o->image); rc != kExitOk)
      return rc == kExitUnreachable ? rc : kExitRunFailed;
    v1::RunTaskRequest req;
    *req.mutable_spec() = *spec;
    const bool attached = !o->detach && (o->interactive || o->tty);
    req.set_start_on_attach(attached);
    v1::Task task;
    {
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().Run(call.get(), req, &task);
      if (!status.ok()) {
        int rc = ctx.report(name_the_flag(ctx.client().error(status), *o));
        return rc == kExitUnreachable ? rc : kExitRunFailed;
      }
    }
    if (o->detach) {
      task = wait_started(ctx, task);
      if (ctx.json()) print_json(std::cout, task);
      if (task.stop_reason() == "ImagePullFailed" || task.stop_reason() == "StartFailed") {
        // As docker run -d: no id on stdout for a task that never ran (scripts take stdout as
        // the id of a running task); the error names it, for svctl logs and svctl rm.
        std::string why;
        int rc = task_exit_code(task, &why);
        std::cerr << "svctl: " << why << " (task " << task.id() << ")\n";
        return rc;
      }
      if (!ctx.json()) std::cout << task.id() << "\n";
      return kExitOk;
    }
    if (attached) return run_attached(ctx, *o, task);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return kExitFailed;
    g_wake_fd = pipefd[1];
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);

    auto log_call = ctx.client().context(std::nullopt);
    auto wait_call = ctx.client().context(std::nullopt);
    std::atomic<bool> detached{false};
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      char c;
      while (::read(pipefd[0], &c, 1) == 1) {
        if (done.load()) return;
        if (g_interrupts.load() == 1) {
          std::cerr << "svctl: stopping task " << task.name()
                    << " (Ctrl-C again to detach and leave it running)\n";
          v1::StopTaskRequest stop;
          stop.set_id(task.id());
          v1::Task ignored;
          auto call = ctx.client().context();
          auto status = ctx.client().tasks().Stop(call.get(), stop, &ignored);
          if (!status.ok()) std::cerr << "svctl: stop: " << status.error_message() << "\n";
        } else {
          detached = true;
          log_call->TryCancel();
          wait_call->TryCancel();
          return;
        }
      }
    });

    LogOptions lo;
    lo.follow = true;
    auto log_status = stream_logs(ctx, log_call.get(), task.id(), lo);
    v1::WaitTaskRequest wreq;
    wreq.set_id(task.id());
    v1::Task final_task;
    auto wait_status = detached ? grpc::Status::CANCELLED
                                : ctx.client().tasks().Wait(wait_call.get(), wreq, &final_task);
    done = true;
    on_sigint(0);  // wake the watcher so it ends
    watcher.join();
    ::signal(SIGINT, SIG_DFL);
    ::close(pipefd[0]);
    ::close(pipefd[1]);

    if (detached) {
      std::cerr << "svctl: detached; task " << task.name() << " keeps running (svctl logs -f "
                << task.name() << ")\n";
      return kExitOk;
    }
    if (!log_status.ok() && log_status.error_code() != grpc::StatusCode::CANCELLED)
      std::cerr << "svctl: logs: " << log_status.error_message() << "\n";
    if (!wait_status.ok()) {
      int rc = ctx.report(wait_status);
      return rc == kExitUnreachable ? rc : kExitRunFailed;
    }
    return final_exit(ctx, final_task);
  });
}

}  // namespace svc::cli
