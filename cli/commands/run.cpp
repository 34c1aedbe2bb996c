// svctl run: create a task and, unless -d, follow its output and exit with its exit code.
// Ctrl-C stops the task (its stop signal, then SIGKILL after the grace period); a second Ctrl-C
// detaches and leaves it running.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "cli/log_stream.hpp"
#include "cli/task_format.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

using google::protobuf::util::TimeUtil;

struct RunOpts {
  std::string name, cpu, memory, workdir, user, timeout, network = "private", stop_signal,
                                                         stop_timeout, entrypoint;
  bool entrypoint_set = false;
  std::vector<std::string> env, env_files, labels;
  bool detach = false, rm = false, queue = false;
  std::string image;
  std::vector<std::string> command;
};

Result<std::pair<std::string, std::string>> split_kv(const std::string& text, std::string_view flag,
                                                     bool env_fallback) {
  auto eq = text.find('=');
  if (eq == std::string::npos) {
    if (env_fallback) {
      // As docker: --env NAME takes NAME's value from svctl's own environment.
      const char* v = std::getenv(text.c_str());
      if (!v)
        return fail(Code::kInvalidArgument, "{} {}: not set in this environment (use NAME=VALUE)",
                    flag, text);
      return std::make_pair(text, std::string(v));
    }
    return fail(Code::kInvalidArgument, "{} {}: expected KEY=VALUE", flag, text);
  }
  if (eq == 0) return fail(Code::kInvalidArgument, "{} {}: the name is empty", flag, text);
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

Result<v1::TaskSpec> build_spec(const RunOpts& o) {
  v1::TaskSpec s;
  s.set_image(o.image);
  s.set_name(o.name);
  if (o.entrypoint_set) {
    if (o.entrypoint.empty())
      s.set_reset_entrypoint(true);
    else
      s.add_entrypoint(o.entrypoint);
  }
  // Everything after IMAGE is the command; a leading "--" only separates it.
  std::size_t skip = !o.command.empty() && o.command.front() == "--" ? 1 : 0;
  for (std::size_t i = skip; i < o.command.size(); ++i) s.add_args(o.command[i]);
  // Env files first, then --env, so a flag overrides a file (as docker).
  for (const auto& file : o.env_files) {
    std::ifstream in(file);
    if (!in) return fail(Code::kInvalidArgument, "--env-file {}: cannot read it", file);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto first = line.find_first_not_of(" \t");
      if (first == std::string::npos || line[first] == '#') continue;
      auto kv = split_kv(line.substr(first), fmt::format("--env-file {}:{}", file, n), true);
      if (!kv) return tl::unexpected(kv.error());
      (*s.mutable_env())[kv->first] = kv->second;
    }
  }
  for (const auto& e : o.env) {
    auto kv = SVC_TRY(split_kv(e, "--env", true));
    (*s.mutable_env())[kv.first] = kv.second;
  }
  for (const auto& l : o.labels) {
    auto kv = SVC_TRY(split_kv(l, "--label", false));
    (*s.mutable_labels())[kv.first] = kv.second;
  }
  s.set_workdir(o.workdir);
  s.set_user(o.user);
  if (!o.cpu.empty())
    s.mutable_resources()->set_cpu_millis(SVC_TRY_CTX(parse_cpu_millis(o.cpu), "--cpu"));
  if (!o.memory.empty())
    s.mutable_resources()->set_memory_bytes(
        static_cast<std::int64_t>(SVC_TRY_CTX(parse_size(o.memory), "--memory")));
  if (!o.timeout.empty())
    *s.mutable_timeout() = TimeUtil::MillisecondsToDuration(
        SVC_TRY_CTX(parse_duration(o.timeout), "--timeout").count());
  if (!o.stop_timeout.empty())
    *s.mutable_stop_grace_period() = TimeUtil::MillisecondsToDuration(
        SVC_TRY_CTX(parse_duration(o.stop_timeout), "--stop-timeout").count());
  if (o.network == "private")
    s.set_network(v1::PRIVATE);
  else if (o.network == "bridge")
    s.set_network(v1::BRIDGE);
  else if (o.network == "none")
    s.set_network(v1::NONE);
  s.set_auto_remove(o.rm);
  s.set_queue(o.queue);
  s.set_stop_signal(o.stop_signal);
  return s;
}

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

void add_run_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RunOpts>();
  auto* cmd = app.add_subcommand("run", "run a task: svctl run [flags] IMAGE [-- COMMAND ARGS...]");
  cmd->add_option("--name", o->name, "a unique name (default: task-<id>)");
  cmd->add_option(
      "--cpu", o->cpu,
      "vCPUs to reserve and limit to: 0.5, 250m (default: the node's small request and no "
      "limit, see `svctl node info`)");
  cmd->add_option("--memory,-m", o->memory,
                  "memory to reserve and limit to: 256Mi, 1G (default: the node's small request "
                  "and its default limit)");
  cmd->add_option("--env,-e", o->env, "set a variable: KEY=VALUE, or KEY to pass svctl's own")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", o->env_files, "read variables from a file of KEY=VALUE lines")
      ->allow_extra_args(false);
  cmd->add_option("--label,-l", o->labels, "a label KEY=VALUE")->allow_extra_args(false);
  cmd->add_option("--workdir,-w", o->workdir, "working directory inside the task");
  cmd->add_option("--user,-u", o->user, "user: uid, uid:gid or a name from the image");
  cmd->add_option("--timeout", o->timeout, "stop the task after this long (10m)");
  cmd->add_option("--network", o->network, "private (loopback only), bridge (outbound), none")
      ->check(CLI::IsMember({"private", "bridge", "none"}));
  cmd->add_option("--stop-signal", o->stop_signal,
                  "signal that asks the task to stop (default SIGTERM)");
  cmd->add_option("--stop-timeout", o->stop_timeout, "grace period before SIGKILL (default 10s)");
  cmd->add_option("--entrypoint", o->entrypoint, "replace the image's entrypoint (\"\" clears it)")
      ->each([o](const std::string&) { o->entrypoint_set = true; });
  cmd->add_flag("-d,--detach", o->detach, "print the task id and return at once");
  cmd->add_flag("--rm", o->rm, "remove the task once it stopped and its exit code was read");
  cmd->add_flag("--queue", o->queue, "wait for capacity instead of failing when the node is full");
  cmd->add_option("image", o->image, "the image to run")->required();
  cmd->add_option("command", o->command, "command and arguments (after --)");
  cmd->positionals_at_end();
  set_runner(cmd, [&ctx, o]() -> int {
    auto spec = build_spec(*o);
    if (!spec) {
      std::cerr << "svctl: " << spec.error().message() << "\n";
      return kExitUsage;
    }
    if (int rc = ensure_image(ctx, o->image); rc != kExitOk)
      return rc == kExitUnreachable ? rc : kExitRunFailed;
    v1::RunTaskRequest req;
    *req.mutable_spec() = *spec;
    v1::Task task;
    {
      auto call = ctx.client().context();
      auto status = ctx.client().tasks().Run(call.get(), req, &task);
      if (!status.ok()) {
        int rc = ctx.report(status);
        return rc == kExitUnreachable ? rc : kExitRunFailed;
      }
    }
    if (o->detach) {
      if (ctx.json())
        print_json(std::cout, task);
      else
        std::cout << task.id() << "\n";
      return kExitOk;
    }

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
    if (ctx.json()) print_json(std::cout, final_task);
    if (final_task.stop_reason() == "ImagePullFailed" ||
        final_task.stop_reason() == "StartFailed" || !final_task.has_exit_code()) {
      std::cerr << "svctl: task " << final_task.name() << ": " << final_task.stop_reason() << ": "
                << final_task.stop_message() << "\n";
      // A program that could not be executed has 127, as in a shell; otherwise 125.
      return final_task.has_exit_code() ? final_task.exit_code() : kExitRunFailed;
    }
    if (final_task.stop_reason() == "OOMKilled" || final_task.stop_reason() == "TimedOut")
      std::cerr << "svctl: task " << final_task.name() << ": " << final_task.stop_reason() << ": "
                << final_task.stop_message() << "\n";
    return final_task.exit_code();
  });
}

}  // namespace svc::cli
