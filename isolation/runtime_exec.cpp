// Runtime: processes exec'd into a running sandbox, and attaching to stdio. The launch itself is
// exec_child.cpp; this file gathers what it needs (the task's pidfd, its recorded defaults and
// seccomp filter, the namespaces to join, the cgroup) and the fds of the exec's shim.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "common/syscall.hpp"
#include "isolation/child_message.hpp"
#include "isolation/exec_child.hpp"
#include "isolation/image_user.hpp"
#include "isolation/runtime.hpp"
#include "isolation/sandbox_state.hpp"
#include "isolation/shim/protocol.hpp"
#include "isolation/shim_client.hpp"
#include "isolation/terminal.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

std::pair<UniqueFd, UniqueFd> pipe_pair() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

Result<> validate_exec_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return fail(Code::kInvalidArgument, "exec id \"{}\": 1 to 64 characters", id);
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return fail(Code::kInvalidArgument, "exec id \"{}\": only letters, digits, - and _", id);
  return {};
}

std::string exec_socket(std::string_view exec_id) { return fmt::format("exec-{}.sock", exec_id); }
std::string exec_record(std::string_view exec_id) { return fmt::format("exec-{}.json", exec_id); }

std::optional<ExitRecord> read_record(const fs::path& file) {
  auto text = read_file(file);
  if (!text) return std::nullopt;
  auto r = parse_exit_record(*text);
  if (!r) return std::nullopt;
  return *r;
}

}  // namespace

Result<> release_exec(ExecInfo& exec, milliseconds timeout) {
  if (!exec.start_w)
    return fail(Code::kFailedPrecondition, "exec {} was released already", exec.id);
  char go = 'x';
  ssize_t n;
  do {
    n = ::write(exec.start_w.get(), &go, 1);
  } while (n < 0 && errno == EINTR);
  exec.start_w.reset();
  if (n != 1) return fail(Code::kUnavailable, "exec {}: the process is gone", exec.id);
  // execerr reaches EOF at a successful execve (close-on-exec), or carries why it failed.
  struct pollfd p = {exec.execerr_r.get(), POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return fail(Code::kDeadlineExceeded, "exec {}: no exec within {} ms", exec.id, timeout.count());
  ChildMessage m;
  do {
    n = ::read(exec.execerr_r.get(), &m, sizeof m);
  } while (n < 0 && errno == EINTR);
  exec.execerr_r.reset();
  if (n == 0) return {};
  if (n != static_cast<ssize_t>(sizeof m) || m.kind != ChildMessage::kError)
    return fail(Code::kInternal, "exec {}: unexpected message from the process", exec.id);
  m.text[sizeof m.text - 1] = 0;
  return tl::unexpected(sys_error(m.err ? m.err : EIO, m.text));
}

Result<ExecInfo> Runtime::exec(std::string_view id, const ExecSpec& spec,
                               const ExecOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  SVC_TRY_CTX(validate_sandbox_id(id), "exec");
  fs::path dir = sandbox_dir(id);
  auto ctx = [&](std::string_view what) { return fmt::format("exec in sandbox {}: {}", id, what); };
  SandboxRecord rec = SVC_TRY_CTX(read_sandbox_record(dir), "exec in sandbox {}", id);
  SandboxInfo info = SVC_TRY(state(id));
  if (info.status == SandboxStatus::kStopped)
    return fail(Code::kFailedPrecondition, "exec in sandbox {}: it is not running", id);
  if (info.status == SandboxStatus::kCreated)
    return fail(Code::kFailedPrecondition,
                "exec in sandbox {}: its process has not been started yet (start it first)", id);
  // The pidfd pins the process: its namespaces are joined through it, so a reused pid cannot
  // lead the exec into another process's.
  UniqueFd task(sys::pidfd_open(rec.info.pid));
  if (!task || process_start_time(options_.proc, rec.info.pid) != rec.pid_start)
    return fail(Code::kFailedPrecondition, "exec in sandbox {}: it is not running", id);
  ExecDefaults defaults = SVC_TRY_CTX(read_exec_defaults(dir), "exec in sandbox {}", id);
  std::shared_ptr<const seccomp::Program> program;
  if (defaults.seccomp) program = SVC_TRY_CTX(read_exec_seccomp(dir), "exec in sandbox {}", id);
  std::optional<ResolvedUser> user;
  if (!spec.user.empty()) {
    auto u = SVC_TRY_CTX(resolve_image_user(defaults.layers, spec.user),
                         "exec in sandbox {}: user \"{}\"", id, spec.user);
    user = ResolvedUser{u.uid, u.gid, u.additional_gids};
  }
  NamespaceFacts facts =
      SVC_TRY_CTX(read_namespace_facts(options_.proc, rec.info.pid), "{}", ctx("namespaces"));
  struct pollfd alive = {task.get(), POLLIN, 0};
  if (::poll(&alive, 1, 0) != 0)
    return fail(Code::kFailedPrecondition, "exec in sandbox {}: it is not running", id);
  ExecPlan plan = SVC_TRY_CTX(plan_exec(spec, defaults, user, namespaces_to_join(facts)),
                              "exec in sandbox {}", id);
  if (!options.shim && plan.terminal && options.console_socket.empty())
    return fail(Code::kInvalidArgument, "exec with a terminal: give --console-socket");
  std::string exec_id = options.id.empty() ? random_hex(6) : options.id;
  SVC_TRY(validate_exec_id(exec_id));
  if (fs::exists(dir / exec_socket(exec_id)) || fs::exists(dir / exec_record(exec_id)))
    return fail(Code::kAlreadyExists, "exec in sandbox {}: exec id {} is in use", id, exec_id);

  std::vector<UniqueFd> procs =
      SVC_TRY_CTX(cgroups_.open_procs_files(rec.info.cgroup), "{}", ctx("cgroup"));
  std::vector<int> sandbox_procs;
  std::vector<fs::path> cgroup_dirs;
  for (const auto& p : procs) {
    sandbox_procs.push_back(p.get());
    std::error_code ec;
    fs::path target = fs::read_symlink(options_.proc / "self/fd" / std::to_string(p.get()), ec);
    if (!ec) cgroup_dirs.push_back(target.parent_path());
  }
  std::vector<int> shim_procs;
  if (options.shim) shim_procs = SVC_TRY(shim_cgroup_fds(cgroup_dirs));

  // Every fd of the launch, close-on-exec here; exec_child.hpp says who keeps which.
  auto [report_r, report_w] = pipe_pair();
  auto [inner_r, inner_w] = pipe_pair();
  auto [start_r, start_w] = pipe_pair();
  auto [execerr_r, execerr_w] = pipe_pair();
  if (!report_w || !inner_w || !start_w || !execerr_w) return fail_errno(ctx("pipe"));
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) return fail_errno("open /dev/null");
  UniqueFd console_r, console_w;
  if (plan.terminal) {
    int cp[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cp) != 0)
      return fail_errno(ctx("socketpair for the terminal"));
    console_r.reset(cp[0]);
    console_w.reset(cp[1]);
  }
  ExecFds f;
  f.report_w = report_w.get();
  f.inner_r = inner_r.get();
  f.inner_w = inner_w.get();
  f.task_pidfd = task.get();
  f.console_w = console_w.get();
  f.start_r = start_r.get();
  f.execerr_w = execerr_w.get();
  f.null_fd = null_fd.get();
  f.sandbox_procs = sandbox_procs.data();
  f.n_sandbox_procs = static_cast<int>(sandbox_procs.size());
  f.shim_procs = shim_procs.data();
  f.n_shim_procs = static_cast<int>(shim_procs.size());
  for (int& s : f.stdio) s = null_fd.get();
  std::array<UniqueFd, 3> ends, shim_ends;  // the process's and the shim's ends of its pipes
  std::array<UniqueFd, 3> inherited;
  UniqueFd ctl, pidfd_slot;
  if (options.shim) {
    ctl = SVC_TRY_CTX(listen_unix(dir, exec_socket(exec_id), options_.proc), "{}", ctx("socket"));
    pidfd_slot.reset(::fcntl(null_fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!pidfd_slot) return fail_errno("dup /dev/null");
    f.ctl = ctl.get();
    f.pidfd_slot = pidfd_slot.get();
    f.start_w = start_w.get();
    f.execerr_r = execerr_r.get();
    if (!plan.terminal) {
      for (int i : {1, 2}) {
        auto [r, w] = pipe_pair();
        if (!w) return fail_errno(ctx("pipe"));
        ends[i] = std::move(w);
        shim_ends[i] = std::move(r);
      }
      if (spec.open_stdin) {
        auto [r, w] = pipe_pair();
        if (!w) return fail_errno(ctx("pipe"));
        ends[0] = std::move(r);
        shim_ends[0] = std::move(w);
      }
      for (int i = 0; i < 3; ++i) {
        if (ends[i]) f.stdio[i] = ends[i].get();
        f.shim_side[i] = shim_ends[i].get();
      }
    } else {
      f.console_r = console_r.get();
    }
  } else if (!plan.terminal) {
    for (int i = 0; i < 3; ++i) {
      if (options.stdio[i] < 0) continue;
      inherited[i].reset(::fcntl(options.stdio[i], F_DUPFD_CLOEXEC, 3));
      if (!inherited[i]) return fail_errno("duplicate stdio fd");
      f.stdio[i] = inherited[i].get();
    }
  }

  std::vector<const char*> argv, envp;
  for (const auto& a : plan.argv) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  for (const auto& e : plan.env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  std::vector<gid_t> groups(plan.groups.begin(), plan.groups.end());

  std::vector<std::string> sargs = {options_.shim_path.string(),
                                    "--dir",
                                    dir.string(),
                                    "--pid",
                                    std::string(15, '0'),
                                    "--pidfd",
                                    std::to_string(f.pidfd_slot),
                                    "--ctl",
                                    std::to_string(f.ctl),
                                    "--start",
                                    std::to_string(f.start_w),
                                    "--execerr",
                                    std::to_string(f.execerr_r),
                                    "--socket",
                                    exec_socket(exec_id),
                                    "--exit",
                                    exec_record(exec_id),
                                    "--no-log"};
  auto arg = [&](const char* name, int fd) {
    if (fd < 0) return;
    sargs.push_back(name);
    sargs.push_back(std::to_string(fd));
  };
  arg("--stdout", f.shim_side[1]);
  arg("--stderr", f.shim_side[2]);
  arg("--stdin", f.shim_side[0]);
  arg("--console", f.console_r);
  if (options.start) sargs.push_back("--autostart");
  std::string shim_env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

  ExecLaunchRequest req;
  req.child.plan = &plan;
  req.child.seccomp = program.get();
  req.child.argv = argv.data();
  req.child.envp = envp.data();
  req.child.cwd = plan.cwd.c_str();
  req.child.path = plan.path.c_str();
  req.child.groups = groups.data();
  req.child.n_groups = static_cast<int>(groups.size());
  req.child.fds = f;
  req.shim = options.shim;
  if (options.shim) {
    for (int fd : {f.ctl, f.start_w, f.execerr_r, f.pidfd_slot, f.shim_side[0], f.shim_side[1],
                   f.shim_side[2], f.console_r})
      if (fd >= 0) req.shim_fds.push_back(fd);
    req.shim_path = sargs[0].c_str();
    for (auto& s : sargs) req.shim_argv.push_back(s.data());
    req.shim_argv.push_back(nullptr);
    req.pid_slot = sargs[4].data();
    req.shim_envp = {shim_env.data(), nullptr};
  }
  auto timeout = static_cast<int>(options_.setup_timeout.count());
  Launched l = SVC_TRY_CTX(launch_exec(req, report_r.get(), timeout), "exec in sandbox {}", id);
  // The helpers and the process hold their copies now; ours would hide EOFs they wait for.
  for (UniqueFd* fd : {&report_w, &inner_r, &inner_w, &start_r, &execerr_w, &console_w, &ctl,
                       &pidfd_slot, &null_fd, &ends[0], &ends[1], &ends[2], &shim_ends[0],
                       &shim_ends[1], &shim_ends[2], &inherited[0], &inherited[1], &inherited[2]})
    fd->reset();
  task.reset();
  procs.clear();
  ExecInfo out;
  out.id = exec_id;
  out.pid = l.pid;
  if (options.shim) {
    start_w.reset();
    execerr_r.reset();
    console_r.reset();
    SVC_TRY_CTX(await_shim_exec(report_r.get(), timeout), "exec in sandbox {}: start svc-shim", id);
  } else {
    if (console_r) {
      auto master = receive_fd(console_r.get(), options_.setup_timeout);
      if (!master) {
        ::kill(l.pid, SIGKILL);
        return tl::unexpected(std::move(master).error().context(ctx("terminal")));
      }
      if (auto sent = send_console(options.console_socket, master->get()); !sent) {
        ::kill(l.pid, SIGKILL);
        return tl::unexpected(std::move(sent).error());
      }
    }
    out.start_w = std::move(start_w);
    out.execerr_r = std::move(execerr_r);
  }
  spdlog::debug(
      "exec in sandbox {}: {} as pid {} in {:.2f} ms", id, exec_id, l.pid,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return out;
}

Result<ExitRecord> Runtime::wait_exec(std::string_view id, std::string_view exec_id,
                                      std::optional<milliseconds> timeout) {
  SVC_TRY(validate_sandbox_id(id));
  SVC_TRY(validate_exec_id(exec_id));
  fs::path dir = sandbox_dir(id);
  fs::path record = dir / exec_record(exec_id);
  if (auto e = read_record(record)) return *e;
  auto fd = connect_unix(dir, exec_socket(exec_id), false, options_.proc);
  if (!fd) {
    if (auto e = read_record(record)) return *e;
    if (fd.error().code() == Code::kUnavailable)
      return fail(Code::kNotFound, "sandbox {} has no exec {}", id, exec_id);
    return tl::unexpected(std::move(fd).error());
  }
  if (::send(fd->get(), "wait\n", 5, MSG_NOSIGNAL) != 5) {
    if (auto e = read_record(record)) return *e;
    return fail_errno(fmt::format("wait for exec {} in sandbox {}", exec_id, id));
  }
  auto line = read_line(fd->get(), timeout.value_or(std::chrono::hours(24 * 365)));
  if (!line) {
    if (auto e = read_record(record)) return *e;
    return tl::unexpected(
        std::move(line).error().context(fmt::format("wait for exec {}", exec_id)));
  }
  if (line->starts_with("exit ")) {
    auto r = parse_exit_record(std::string_view(*line).substr(5));
    if (r) return r;
  }
  if (auto e = read_record(record)) return *e;
  ExitRecord lost;
  lost.shim_lost = true;
  lost.exited_at = std::chrono::system_clock::now();
  lost.error = "the exec's shim died without recording how the process ended";
  return lost;
}

Result<> Runtime::kill_exec(std::string_view id, std::string_view exec_id, int signal) {
  SVC_TRY(validate_sandbox_id(id));
  SVC_TRY(validate_exec_id(exec_id));
  if (signal <= 0 || signal >= 65)
    return fail(Code::kInvalidArgument, "kill exec {}: bad signal {}", exec_id, signal);
  // An exec's shim has its own socket (shim_request speaks to the task's).
  auto fd = connect_unix(sandbox_dir(id), exec_socket(exec_id), false, options_.proc);
  if (!fd)
    return fail(Code::kFailedPrecondition, "kill exec {} in sandbox {}: it is not running", exec_id,
                id);
  std::string req = fmt::format("kill {}\n", signal);
  if (::send(fd->get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return fail(Code::kFailedPrecondition, "kill exec {}: it ended", exec_id);
  std::string reply = SVC_TRY(read_line(fd->get(), std::chrono::seconds(5)));
  if (!reply.starts_with("ok"))
    return fail(Code::kFailedPrecondition, "kill exec {}: {}", exec_id, reply);
  return {};
}

Result<> Runtime::remove_exec(std::string_view id, std::string_view exec_id) {
  SVC_TRY(validate_sandbox_id(id));
  SVC_TRY(validate_exec_id(exec_id));
  fs::path dir = sandbox_dir(id);
  if (auto fd = connect_unix(dir, exec_socket(exec_id), false, options_.proc); fd) {
    (void)::send(fd->get(), "kill 9\n", 7, MSG_NOSIGNAL);
    (void)wait_exec(id, exec_id, std::chrono::seconds(10));
  }
  std::error_code ec;
  fs::remove(dir / exec_record(exec_id), ec);
  return {};
}

Result<std::unique_ptr<Attachment>> Runtime::attach(std::string_view id,
                                                    const AttachOptions& options) {
  SVC_TRY(validate_sandbox_id(id));
  std::string socket = shim::kSocketName;
  if (!options.exec_id.empty()) {
    SVC_TRY(validate_exec_id(options.exec_id));
    socket = exec_socket(options.exec_id);
  }
  auto a = Attachment::open(sandbox_dir(id), socket, options, options_.proc);
  if (!a && a.error().code() == Code::kUnavailable)
    return fail(Code::kFailedPrecondition, "attach to sandbox {}{}: it is not running", id,
                options.exec_id.empty() ? "" : " exec " + options.exec_id);
  if (!a)
    return tl::unexpected(std::move(a).error().context(fmt::format("attach to sandbox {}", id)));
  return a;
}

}  // namespace svc::isolation
