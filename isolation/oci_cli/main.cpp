// svc-runtime: an OCI runtime (runc/crun command line) over svc's sandbox library.
//   svc-runtime [--root DIR] create [--bundle B] [--pid-file F] ID
//   svc-runtime start|state|kill [SIGNAL]|delete [--force] ID
//   svc-runtime run [--bundle B] [--detach] ID     (foreground: exits with the task's code)
//   svc-runtime exec [-t --console-socket S] [-d] [--process P | ID CMD...]
//   svc-runtime spec | features | list
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/log.hpp"
#include "common/version.hpp"
#include "isolation/oci_cli/commands.hpp"

using namespace svc;
using namespace svc::isolation::oci;

namespace {
int run_cli(int argc, char** argv);
}  // namespace

int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const std::exception& e) {  // the JSON and CLI libraries throw; say what and stop
    std::fprintf(stderr, "svc-runtime: %s\n", e.what());
    return 1;
  }
}

namespace {
int run_cli(int argc, char** argv) {
  CLI::App app{
      "svc-runtime: an OCI runtime with svc's sandbox (user namespace, private id "
      "range, seccomp, cgroups) for every container"};
  app.set_version_flag("--version,-v",
                       std::string(version()) + " (" + std::string(git_commit()) + ")");
  GlobalOptions g;
  std::string root = g.root.string();
  app.add_option("--root", root, "directory for container state")->capture_default_str();
  app.add_option("--log", g.log_file, "also write errors to this file");
  app.add_option("--log-format", g.log_format, "text or json")->capture_default_str();
  app.add_option("--id-base", g.id_base, "first host uid/gid of the id ranges")->group("");
  app.add_option("--cgroup-base", g.cgroup_base, "cgroup directory for containers")->group("");
  app.add_option("--shim-cgroup", g.shim_cgroup, "cgroup directory for the shims")->group("");
  app.add_flag("--pid-file-shim", g.pid_file_shim,
               "--pid-file gets the shim's pid, which exits with the container's status (for "
               "supervisors that wait for it; automatic under conmon)");
  bool debug = false, systemd_cgroup = false;
  app.add_flag("--debug", debug, "log what happens (with timings) to stderr");
  app.add_flag("--systemd-cgroup", systemd_cgroup, "not supported (cgroupfs only)");
  app.require_subcommand(1);

  std::string id, bundle = ".", pid_file, console_socket, signal = "SIGTERM";
  bool force = false, all = false, detach = false, keep = false, quiet = false, ignored = false;
  auto* create = app.add_subcommand("create", "create a container (status created)");
  create->add_option("id", id)->required();
  create->add_option("--bundle,-b", bundle, "the bundle directory")->capture_default_str();
  create->add_option("--pid-file", pid_file, "write the container's pid here");
  create->add_option("--console-socket", console_socket,
                     "unix socket the terminal's master is sent to (process.terminal)");
  create->add_flag("--no-pivot,--no-new-keyring", ignored, "accepted for runc compatibility");
  auto* start = app.add_subcommand("start", "run the created container's process");
  start->add_option("id", id)->required();
  auto* state = app.add_subcommand("state", "print the container's state (OCI state JSON)");
  state->add_option("id", id)->required();
  auto* kill = app.add_subcommand("kill", "send a signal to the container's process");
  kill->add_option("id", id)->required();
  kill->add_option("signal", signal, "name or number")->capture_default_str();
  kill->add_flag("--all,-a", all, "signal every process in the container");
  auto* del = app.add_subcommand("delete", "remove a stopped container");
  del->add_option("id", id)->required();
  del->add_flag("--force,-f", force, "kill it first if it runs");
  auto* run = app.add_subcommand("run", "create and start a container, wait for it");
  run->add_option("id", id)->required();
  run->add_option("--bundle,-b", bundle, "the bundle directory")->capture_default_str();
  run->add_option("--pid-file", pid_file, "write the container's pid here");
  run->add_flag("--detach,-d", detach, "do not wait");
  run->add_option("--console-socket", console_socket,
                  "unix socket the terminal's master is sent to (process.terminal)");
  run->add_flag("--keep", keep, "do not delete the container after it exits");
  run->add_flag("--no-pivot,--no-new-keyring", ignored, "accepted for runc compatibility");
  ExecCliOptions ex;
  auto* exec = app.add_subcommand("exec", "run a process in a running container");
  exec->add_option("id", id)->required();
  exec->add_option("command", ex.args, "the program and its arguments (without --process)");
  exec->add_option("--process,-p", ex.process_file, "an OCI process JSON to run");
  exec->add_option("--env,-e", ex.env, "KEY=VALUE, added to the container's environment")
      ->allow_extra_args(false);
  exec->add_option("--cwd", ex.cwd, "working directory (default: the container's)");
  exec->add_option("--user,-u", ex.user, "uid[:gid] (default: the container's)");
  exec->add_option("--additional-gids,-g", ex.additional_gids, "more groups")
      ->allow_extra_args(false);
  exec->add_option("--cap,-c", ex.caps, "add a capability (within the bounding set)")
      ->allow_extra_args(false);
  exec->add_flag("--tty,-t", ex.tty, "a terminal (its master goes to --console-socket)");
  exec->add_option("--console-socket", ex.console_socket, "where the terminal's master is sent");
  exec->add_option("--pid-file", ex.pid_file, "write the process's pid here");
  exec->add_flag("--detach,-d", ex.detach, "do not wait for the process");
  exec->add_flag("--no-new-privs", ex.no_new_privs, "set no_new_privs (svc always does)");
  std::string ignored_opt;
  exec->add_option("--process-label,--apparmor,--cgroup", ignored_opt,
                   "accepted for runc compatibility");
  exec->add_flag("--ignore-paused", ignored, "accepted for runc compatibility");
  int preserve_fds = 0;
  exec->add_option("--preserve-fds", preserve_fds, "not supported beyond 0");
  exec->positionals_at_end();
  auto* spec = app.add_subcommand("spec", "write a default config.json");
  spec->add_option("--bundle,-b", bundle, "where to write it")->capture_default_str();
  spec->add_flag("--rootless", ignored, "accepted: every svc container is rootless-style already");
  app.add_subcommand("features", "print the features JSON (OCI features.md)");
  auto* list = app.add_subcommand("list", "list containers");
  list->add_flag("--quiet,-q", quiet, "only ids");

  CLI11_PARSE(app, argc, argv);
  g.root = root;
  if (spec->parsed()) {
    auto r = Cli::spec(bundle);
    if (!r) return Cli(g).report(r.error());
    return *r;
  }
  if (app.got_subcommand("features")) return Cli::features();
  if (debug) (void)setup_logging("debug", LogFormat::kText);
  Cli cli(g);
  if (systemd_cgroup)
    return cli.report(Error(Code::kUnimplemented, "--systemd-cgroup is not supported"));
  if (auto r = cli.init(); !r) return cli.report(r.error());
  Result<int> r = 0;
  if (create->parsed())
    r = cli.create(id, bundle, pid_file, console_socket);
  else if (start->parsed())
    r = cli.start(id);
  else if (state->parsed())
    r = cli.state(id);
  else if (kill->parsed())
    r = cli.kill(id, signal, all);
  else if (del->parsed())
    r = cli.remove(id, force);
  else if (run->parsed())
    r = cli.run(id, bundle, pid_file, console_socket, detach, keep);
  else if (exec->parsed())
    r = preserve_fds > 0 ? Result<int>(tl::unexpected(
                               Error(Code::kUnimplemented, "exec --preserve-fds is not supported")))
                         : cli.exec(id, ex);
  else if (list->parsed())
    r = cli.list(quiet);
  if (!r) return cli.report(r.error());
  return *r;
}
}  // namespace
