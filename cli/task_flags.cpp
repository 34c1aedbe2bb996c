#include "cli/task_flags.hpp"

#include <google/protobuf/util/time_util.h>

#include "cli/spec_flags.hpp"
#include "common/units.hpp"

namespace svc::cli {

using google::protobuf::util::TimeUtil;

void add_task_spec_flags(CLI::App* cmd, const std::shared_ptr<TaskFlags>& o) {
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
  cmd->add_flag("--queue", o->queue, "wait for capacity instead of failing when the node is full");
  cmd->add_flag("--init", o->init, "run svc-init as PID 1: it forwards signals and reaps zombies");
}

Result<v1::TaskSpec> build_task_spec(const TaskFlags& o) {
  v1::TaskSpec s;
  s.set_image(o.image);
  s.set_name(o.name);
  SVC_TRY(fill_process_spec(o, s));
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
  s.set_tty(o.tty);
  s.set_stdin(o.interactive);
  s.set_init(o.init);
  return s;
}

Error name_the_flag(const Error& e, const TaskFlags& o) {
  struct Field {
    std::string_view api;
    std::string_view flag;
    const std::string* value;
  };
  const Field fields[] = {
      {"spec.resources.memoryBytes", "--memory", &o.memory},
      {"spec.resources.cpuMillis", "--cpu", &o.cpu},
      {"spec.stopGracePeriod", "--stop-timeout", &o.stop_timeout},
      {"spec.stopSignal", "--stop-signal", &o.stop_signal},
      {"spec.timeout", "--timeout", &o.timeout},
      {"spec.name", "--name", &o.name},
      {"spec.image", "IMAGE", &o.image},
      {"spec.entrypoint", "--entrypoint", &o.entrypoint},
      {"spec.args", "COMMAND", nullptr},
      {"spec.env", "--env", nullptr},
      {"spec.labels", "--label", nullptr},
      {"spec.workdir", "--workdir", &o.workdir},
      {"spec.user", "--user", &o.user},
      {"spec.network", "--network", &o.network},
  };
  const std::string& msg = e.message();
  for (const Field& f : fields) {
    if (!msg.starts_with(f.api) || msg.size() <= f.api.size() || msg[f.api.size()] != ':') continue;
    std::string flag(f.flag);
    std::string rest = msg.substr(f.api.size());
    // The value as typed, unless svcd's message starts with it ("--memory: 1 is less than").
    if (f.value && !f.value->empty() && f.value->size() <= 80 && !rest.starts_with(": " + *f.value))
      flag += " " + *f.value;
    return Error(e.code(), flag + rest);
  }
  return e;
}

}  // namespace svc::cli
