#include "scheduler/tasks/launch.hpp"

#include <csignal>

namespace svc::scheduler {

Result<LaunchSpec> make_launch_spec(const Task& task, const ResolvedImage& image) {
  const TaskSpec& s = task.spec;
  LaunchSpec l;
  l.id = task.id;
  std::vector<std::string> entrypoint =
      s.reset_entrypoint ? std::vector<std::string>{}
                         : (!s.entrypoint.empty() ? s.entrypoint : image.entrypoint);
  std::vector<std::string> cmd =
      !s.args.empty() ? s.args
                      : ((!s.entrypoint.empty() || s.reset_entrypoint) ? std::vector<std::string>{}
                                                                       : image.cmd);
  l.args = entrypoint;
  l.args.insert(l.args.end(), cmd.begin(), cmd.end());
  if (l.args.empty())
    return fail(Code::kInvalidArgument,
                "image {} has no entrypoint or command: give one after --, as in `svctl run {} -- "
                "/bin/sh -c 'echo hi'`",
                image.reference, s.image);

  auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  l.env = image.env;
  for (const auto& [k, v] : s.env) {
    std::string kv = k + "=" + v;
    bool replaced = false;
    for (auto& existing : l.env) {
      if (key_of(existing) == k) {
        existing = kv;
        replaced = true;
      }
    }
    if (!replaced) l.env.push_back(kv);
  }
  bool has_path = false;
  for (const auto& kv : l.env) has_path = has_path || key_of(kv) == "PATH";
  if (!has_path)
    l.env.insert(l.env.begin(),
                 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");

  l.workdir = !s.workdir.empty() ? s.workdir : (!image.workdir.empty() ? image.workdir : "/");
  l.user = !s.user.empty() ? s.user : image.user;
  l.hostname = !s.name.empty() ? s.name : task.id.substr(0, 12);
  l.lower_dirs = image.lower_dirs;
  l.cpu_millis = task.resources.cpu_limit_millis;
  l.memory_bytes = task.resources.memory_limit_bytes;
  l.pids = task.resources.pids;
  l.cpu_request_millis = task.resources.cpu_request_millis;
  l.memory_request_bytes = task.resources.memory_request_bytes;
  l.network = s.network;
  std::string sig = !s.stop_signal.empty() ? s.stop_signal : image.stop_signal;
  l.stop_signal = sig.empty() ? SIGTERM : parse_signal(sig);
  if (l.stop_signal == 0) l.stop_signal = SIGTERM;
  l.stop_grace = s.stop_grace.count() > 0 ? s.stop_grace : kDefaultStopGrace;
  l.tty = s.tty;
  l.open_stdin = s.open_stdin;
  l.hold = s.hold_for_attach;
  l.init = s.init;
  return l;
}

}  // namespace svc::scheduler
