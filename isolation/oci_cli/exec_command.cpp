// svc-runtime exec: runc's exec over Runtime::exec without a shim of its own. The process is
// joined to the container (runtime_exec.cpp) and becomes a child of svc-runtime, which is a
// child subreaper while it waits; with --detach it is left to the caller's subreaper, as runc
// leaves it to conmon or containerd's shim. Its stdio is svc-runtime's, or with a terminal the
// pty's master goes to --console-socket.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "isolation/capabilities.hpp"
#include "isolation/exec_defaults.hpp"
#include "isolation/oci_cli/commands.hpp"

namespace svc::isolation::oci {

namespace {

using nlohmann::json;

std::vector<std::string> strings_of(const json& j, std::string_view field) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  (void)field;
  return out;
}

// An OCI process object (runtime-spec config.md "process") as an exec.
Result<ExecSpec> from_process_json(std::string_view text, const std::string& file) {
  json p;
  try {
    p = json::parse(text);
  } catch (const std::exception& e) {
    return fail(Code::kInvalidArgument, "--process {}: not JSON: {}", file, e.what());
  }
  if (!p.is_object()) return fail(Code::kInvalidArgument, "--process {}: not an object", file);
  ExecSpec s;
  s.args = strings_of(p.value("args", json()), "args");
  if (s.args.empty())
    return fail(Code::kInvalidArgument, "--process {}: args is empty (name the program)", file);
  s.env = strings_of(p.value("env", json()), "env");
  s.cwd = p.value("cwd", std::string());
  s.terminal = p.value("terminal", false);
  if (p.contains("consoleSize") && p["consoleSize"].is_object()) {
    s.console_rows = static_cast<std::uint16_t>(p["consoleSize"].value("height", 0u));
    s.console_cols = static_cast<std::uint16_t>(p["consoleSize"].value("width", 0u));
  }
  if (p.contains("user") && p["user"].is_object()) {
    const json& u = p["user"];
    std::string user =
        std::to_string(u.value("uid", 0u)) + ":" + std::to_string(u.value("gid", 0u));
    s.user = user;
  }
  if (p.contains("noNewPrivileges")) s.no_new_privs = p.value("noNewPrivileges", true);
  if (p.contains("capabilities") && p["capabilities"].is_object()) {
    const json& c = p["capabilities"];
    CapabilitySets caps;
    caps.bounding = SVC_TRY(capability_mask(strings_of(c.value("bounding", json()), "")));
    caps.effective = SVC_TRY(capability_mask(strings_of(c.value("effective", json()), "")));
    caps.permitted = SVC_TRY(capability_mask(strings_of(c.value("permitted", json()), "")));
    caps.inheritable = SVC_TRY(capability_mask(strings_of(c.value("inheritable", json()), "")));
    caps.ambient = SVC_TRY(capability_mask(strings_of(c.value("ambient", json()), "")));
    s.capabilities = caps;
  }
  return s;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

Result<int> Cli::exec(const std::string& id, const ExecCliOptions& o) {
  ExecSpec spec;
  if (!o.process_file.empty()) {
    auto text = read_file(o.process_file);
    if (!text)
      return tl::unexpected(
          std::move(text).error().context(fmt::format("--process {}", o.process_file)));
    spec = SVC_TRY(from_process_json(*text, o.process_file));
  } else {
    spec.args = o.args;
    if (spec.args.empty())
      return fail(Code::kInvalidArgument,
                  "exec {}: name the program to run (svc-runtime exec ID CMD...) or give "
                  "--process",
                  id);
    spec.terminal = o.tty;
  }
  // Flags add to (or override) the process file, as runc's do.
  spec.env.insert(spec.env.end(), o.env.begin(), o.env.end());
  if (!o.cwd.empty()) spec.cwd = o.cwd;
  if (!o.user.empty()) spec.user = o.user;
  if (o.no_new_privs) spec.no_new_privs = true;
  if (!o.caps.empty()) {
    std::uint64_t add = SVC_TRY_CTX(capability_mask(o.caps, true), "--cap");
    CapabilitySets caps;
    if (spec.capabilities) {
      caps = *spec.capabilities;
    } else {
      // Over the container's own, as create recorded them.
      auto d = SVC_TRY_CTX(read_exec_defaults(runtime_->sandbox_dir(id)), "exec {}", id);
      caps = d.caps;
    }
    caps.effective |= add;
    caps.permitted |= add;
    caps.bounding |= add;
    spec.capabilities = caps;
  }
  if (spec.terminal && o.console_socket.empty())
    return fail(Code::kInvalidArgument,
                "exec {} with a terminal: give --console-socket (where the terminal's master is "
                "sent)",
                id);
  if (!o.additional_gids.empty())
    return fail(Code::kUnimplemented,
                "exec {}: --additional-gids is not supported (the exec gets the groups of its "
                "user in the image's /etc/group, or the container's)",
                id);

  // Foreground: the process is reparented to us once its joiner exits; as a child subreaper we
  // can wait for it. Detached, the caller's subreaper (conmon) gets it when we exit.
  if (!o.detach && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return fail_errno("exec: become a child subreaper");
  sigset_t forward;
  sigemptyset(&forward);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH})
    sigaddset(&forward, s);
  if (!o.detach) pthread_sigmask(SIG_BLOCK, &forward, nullptr);

  ExecOptions eo;
  eo.shim = false;
  eo.stdio = {0, 1, 2};
  eo.console_socket = o.console_socket;
  ExecInfo ex = SVC_TRY(runtime_->exec(id, spec, eo));
  if (!o.pid_file.empty()) {
    if (auto w = write_file_atomic(o.pid_file, std::to_string(ex.pid)); !w) {
      ::kill(ex.pid, SIGKILL);
      return tl::unexpected(std::move(w).error().context("write the pid file"));
    }
  }
  SVC_TRY(release_exec(ex));
  if (o.detach) return 0;

  pid_t pid = ex.pid;
  std::thread([pid, forward] {
    for (;;) {
      int sig = 0;
      if (sigwait(&forward, &sig) != 0) return;
      ::kill(pid, sig);
    }
  }).detach();
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno("exec: wait for the process");
    if (r == pid) return exit_code_of(status);
    // Another orphan reparented to us (the joiner): reaped, not ours to report.
  }
}

}  // namespace svc::isolation::oci
