// Runtime::create as named steps. Each step records what it made in the Creator, so that a
// failure at any point is undone in reverse by one function (undo), and each step can be read,
// timed and changed on its own:
//
//   plan          ids, host limits, plan_sandbox(), the compiled seccomp program
//   make_dirs     the root's mount point, the overlay's upper and work dirs
//   make_cgroup   the sandbox's cgroup with its limits, its cgroup.procs fds, the shims' cgroup
//   open_fds      every fd of the launch (LaunchFiles): sockets, pipes, the shim's listener
//   launch        the shim-to-be and the sandbox's first process (launch.hpp)
//   host_side     id maps, the bridge, the generated /etc files, then the idmapped root and bind
//                 mounts, once the user ns exists
//   hand_over     the mounts to the child; its "ready"; the shim's exec
//   record        state.json, and what a later exec joins with (process.json, seccomp.bpf)
//
// Ownership: the Creator owns every fd it opens (UniqueFd members) and closes them when it is
// destroyed; once launch() returns, the shim and the child hold their own copies, and ours are
// closed at once (they would hide EOFs the others wait for). The processes it starts belong to
// the shim from then on; undo() kills them through the pidfd if the create fails.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "common/syscall.hpp"
#include "isolation/etc_files.hpp"
#include "isolation/exec_defaults.hpp"
#include "isolation/launch.hpp"
#include "isolation/plan.hpp"
#include "isolation/rootfs.hpp"
#include "isolation/runtime.hpp"
#include "isolation/sandbox_state.hpp"
#include "isolation/shim/protocol.hpp"
#include "isolation/shim_cgroup.hpp"
#include "isolation/shim_client.hpp"
#include "isolation/terminal.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

std::pair<UniqueFd, UniqueFd> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

const char* ns_file(int type) {
  switch (type) {
    case CLONE_NEWNET:
      return "net";
    case CLONE_NEWPID:
      return "pid";
    case CLONE_NEWIPC:
      return "ipc";
    case CLONE_NEWUTS:
      return "uts";
    case CLONE_NEWNS:
      return "mnt";
    case CLONE_NEWCGROUP:
      return "cgroup";
    default:
      return "user";
  }
}

Result<> write_proc_file(const fs::path& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + path.string());
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return fail_errno("write " + path.string());
  return {};
}

Result<> send_go(int sock, const std::vector<int>& fds) {
  ChildMessage m;
  m.kind = ChildMessage::kGo;
  m.nfds = static_cast<std::uint32_t>(fds.size());
  std::vector<char> cbuf(CMSG_SPACE(sizeof(int) * fds.size()));
  struct iovec iov = {&m, sizeof m};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf.data();
  msg.msg_controllen = cbuf.size();
  struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) return fail_errno("send mounts to the sandbox");
  return {};
}

Result<> await_ready(int sock, milliseconds timeout) {
  struct pollfd p = {sock, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return fail(Code::kDeadlineExceeded, "the sandbox was not set up within {} ms",
                timeout.count());
  ChildMessage m;
  ssize_t n = ::recv(sock, &m, sizeof m, 0);
  if (n <= 0) return fail(Code::kInternal, "the sandbox's first process died during set-up");
  m.text[sizeof m.text - 1] = 0;
  if (m.kind == ChildMessage::kError)
    return tl::unexpected(sys_error(m.err, std::string("set up inside the sandbox: ") + m.text));
  if (m.kind != ChildMessage::kReady)
    return fail(Code::kInternal, "unexpected message from the sandbox's first process");
  return {};
}

// Every fd of one launch, opened close-on-exec by the runtime before the clone; launch.hpp says
// which of them the shim and the child keep. Owned here until launch() has handed copies on.
struct LaunchFiles {
  UniqueFd sync_rt, sync_child;         // ChildMessage socket: runtime end, child end
  UniqueFd report_r, report_w;          // shim-to-be -> runtime
  UniqueFd start_r, start_w;            // shim -> child: exec now
  UniqueFd execerr_r, execerr_w;        // child -> shim: why execve failed
  UniqueFd ctl;                         // the shim's listening control socket
  UniqueFd null_fd;                     // /dev/null: default stdio, the shim's stdio
  UniqueFd pidfd_slot;                  // the number the child's pidfd is dup2'ed onto in the shim
  UniqueFd out_r, out_w, err_r, err_w;  // StdioMode::kLog
  std::array<UniqueFd, 3> inherited;    // StdioMode::kInherit: our dups of the caller's fds
  std::vector<UniqueFd> joins;          // namespaces to join and ours to return to, in pairs
  // A terminal: the child sends its pty's master on console_w; console_r goes to the shim
  // (kLog), or stays ours for the console socket (kInherit).
  UniqueFd console_r, console_w;
  bool console_to_shim = false;
  UniqueFd stdin_r, stdin_w;  // kLog with an open stdin: the child's end, the shim's end

  // Ours once the shim and the child have theirs (report_r and sync_rt stay: we read them).
  void close_handed_over() {
    for (UniqueFd* fd : {&sync_child, &report_w, &start_r, &start_w, &execerr_r, &execerr_w, &ctl,
                         &null_fd, &pidfd_slot, &out_r, &out_w, &err_r, &err_w, &inherited[0],
                         &inherited[1], &inherited[2], &console_w, &stdin_r, &stdin_w})
      fd->reset();
    joins.clear();
    if (console_to_shim) console_r.reset();
  }
};

// Where a start's time goes, for `svc-runtime --debug` and the daemon's debug log.
class StepTimer {
 public:
  void mark(const char* what) { marks_.emplace_back(what, std::chrono::steady_clock::now()); }
  void log(std::string_view id) const {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    std::string steps;
    auto prev = t0_;
    for (const auto& [what, at] : marks_) {
      steps += fmt::format(" {} {:.2f},", what,
                           std::chrono::duration<double, std::milli>(at - prev).count());
      prev = at;
    }
    spdlog::debug("create sandbox {}: ms:{} total {:.2f}", id, steps,
                  std::chrono::duration<double, std::milli>(prev - t0_).count());
  }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::vector<std::pair<const char*, std::chrono::steady_clock::time_point>> marks_;
};

}  // namespace

class Runtime::Creator {
 public:
  Creator(Runtime& rt, std::string_view id, fs::path dir, const SandboxSpec& spec,
          const CreateOptions& options)
      : rt_(rt),
        id_(id),
        dir_(std::move(dir)),
        dir_path_(dir_.string()),
        spec_(spec),
        options_(options) {}

  Result<SandboxInfo> run() {
    SVC_TRY(plan());
    SVC_TRY(make_dirs());
    timer_.mark("plan");
    SVC_TRY(make_cgroup());
    SVC_TRY(open_fds());
    timer_.mark("cgroup");
    SVC_TRY(launch());
    timer_.mark("launch");
    SVC_TRY(host_side());
    timer_.mark("host mounts");
    SVC_TRY(hand_over());
    timer_.mark("in-sandbox set-up");
    SandboxInfo info = SVC_TRY(record());
    timer_.mark("shim, state");
    timer_.log(id_);
    return info;
  }

  // Undoes in reverse what the steps made: the processes, the cgroup, the network, the id
  // range, the directory.
  void undo() {
    // Our ends first, as when the steps' fds were locals: a child or shim waiting on one sees
    // EOF.
    files_ = LaunchFiles{};
    procs_.clear();
    mounts_.clear();
    if (pidfd_) (void)sys::pidfd_send_signal(pidfd_.get(), SIGKILL);
    if (!cgroup_.empty()) {
      (void)rt_.cgroups_.kill_all(cgroup_, SIGKILL);
      if (auto r = rt_.cgroups_.remove(cgroup_); !r)
        spdlog::warn("create sandbox {}: undo: {}", id_, r.error().message());
    }
    if (!veth_.empty()) (void)rt_.bridge().detach(dir_.string(), veth_);
    if (ids_allocated_) (void)rt_.ids_.release(dir_.string());
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 private:
  // Host facts, the pure plan, and the seccomp program (compiled once per distinct profile).
  Result<> plan() {
    PlanContext ctx;
    ctx.id = id_;
    ctx.sandbox_dir = dir_;
    ctx.cap_last_cap = rt_.cap_last_cap_;
    ctx.cgroup = rt_.options_.cgroup_parent.empty() ? id_ : rt_.options_.cgroup_parent + "/" + id_;
    const bool new_userns = spec_.namespaces.user && !spec_.namespaces.join.count("user");
    if (new_userns && spec_.uid_mappings.empty()) {
      ctx.ids = SVC_TRY(rt_.ids_.allocate(dir_.string()));
      ids_allocated_ = true;
    }
    for (const Rlimit& r : spec_.process.rlimits) {
      struct rlimit host {};
      if (r.resource >= 0 && r.resource < RLIM_NLIMITS &&
          ::getrlimit(static_cast<__rlimit_resource_t>(r.resource), &host) == 0)
        ctx.host_hard_limits[r.resource] = host.rlim_max;
    }
    // Generated /etc files are bound first, so that a mount the caller asks for at the same path
    // wins. Their contents are written once the bridge address is known (host_side).
    const SandboxSpec* planned = &spec_;
    if (spec_.etc.generate) {
      with_etc_ = spec_;
      std::vector<MountSpec> etc;
      for (const char* name : {"hosts", "resolv.conf"}) {
        MountSpec m;
        m.source = dir_ / name;
        m.target = std::string("/etc/") + name;
        m.recursive = false;
        m.noexec = true;
        etc.push_back(std::move(m));
      }
      with_etc_.mounts.insert(with_etc_.mounts.begin(), etc.begin(), etc.end());
      planned = &with_etc_;
    }
    plan_ = SVC_TRY(plan_sandbox(*planned, ctx));
    if (!plan_.limits.devices.empty() && rt_.cgroups_.version() == "v2") {
      // v2 controls devices with an eBPF program, which svc does not load. In a user namespace
      // the rules add nothing (no device node can be made there; the sandbox sees only the
      // nodes bound in); without one they would be the only wall, so refuse rather than drop.
      if (!plan_.new_userns)
        return fail(Code::kUnimplemented,
                    "device rules (linux.resources.devices) on cgroup v2 need an eBPF device "
                    "filter, which svc does not have; give the container a user namespace, or "
                    "run it on a cgroup v1 host");
      spdlog::debug("create sandbox {}: cgroup v2: device rules not applied (user namespace)", id_);
      plan_.limits.devices.clear();
    }
    if (plan_.binds.size() > 200)
      return fail(Code::kInvalidArgument, "{} bind mounts (at most 200)", plan_.binds.size());
    if (spec_.seccomp)
      program_ = SVC_TRY_CTX(rt_.seccomp_.compile(*spec_.seccomp), "seccomp profile");
    return {};
  }

  // The root's mount point and the overlay's private dirs; the upper dir's root is the
  // sandbox's "/", owned by its root.
  Result<> make_dirs() {
    SVC_TRY(svc::make_dirs(plan_.rootfs.staging, 0755));
    if (!plan_.rootfs.overlay) return {};
    SVC_TRY(svc::make_dirs(plan_.rootfs.upper, 0755));
    SVC_TRY(svc::make_dirs(plan_.rootfs.work, 0700));
    if (!plan_.new_userns) return {};  // the sandbox's root is the host's
    uid_t root_uid = *map_to_host(plan_.uid_map, 0);
    gid_t root_gid = *map_to_host(plan_.gid_map, 0);
    if (::chown(plan_.rootfs.upper.c_str(), root_uid, root_gid) != 0)
      return fail_errno("chown " + plan_.rootfs.upper.string());
    return {};
  }

  // The cgroup, and the cgroup.procs files the shim-to-be writes itself into (the sandbox's, so
  // the child is born there, then the shims').
  Result<> make_cgroup() {
    auto made = rt_.cgroups_.create(plan_.cgroup, plan_.limits);
    if (!made && made.error().code() == Code::kAlreadyExists && plan_.cgroup_given) {
      // A cgroup the spec names may exist already (runc joins it): used when nothing runs there.
      auto pids = SVC_TRY_CTX(rt_.cgroups_.pids(plan_.cgroup), "cgroup {}", plan_.cgroup);
      if (!pids.empty())
        return fail(Code::kAlreadyExists,
                    "cgroup {} exists and has {} processes in it; give the container a cgroup "
                    "of its own (linux.cgroupsPath)",
                    plan_.cgroup, pids.size());
      made = rt_.cgroups_.update(plan_.cgroup, plan_.limits);
    }
    SVC_TRY_CTX(std::move(made), "cgroup {}", plan_.cgroup);
    cgroup_ = plan_.cgroup;
    // S is single-threaded (a fork) and moves itself: the files that skip the kernel's global
    // lock (cgroup_driver.hpp).
    procs_ =
        SVC_TRY_CTX(rt_.cgroups_.open_self_join_files(plan_.cgroup), "cgroup {}", plan_.cgroup);
    for (const auto& p : procs_) {
      sandbox_procs_.push_back(p.get());
      std::error_code ec;
      fs::path target =
          fs::read_symlink(rt_.options_.proc / "self/fd" / std::to_string(p.get()), ec);
      if (!ec) cgroup_dirs_.push_back(target.parent_path().string());
    }
    std::vector<fs::path> cgroup_paths(cgroup_dirs_.begin(), cgroup_dirs_.end());
    shim_procs_ = SVC_TRY(rt_.shim_cgroup_fds(cgroup_paths));
    plan_cgroup_fs(cgroup_paths);
    return {};
  }

  // What a "cgroup" mount shows: the sandbox's directory in each hierarchy it has one in, the
  // runtime's own elsewhere (where the child stays, being born in it).
  void plan_cgroup_fs(const std::vector<fs::path>& sandbox_dirs) {
    const auto& steps = plan_.child.steps;
    if (std::none_of(steps.begin(), steps.end(),
                     [](const ChildStep& s) { return s.kind == StepKind::kCgroupFs; }))
      return;
    CgroupFsPlan& cg = plan_.child.cgroup_fs;
    auto mounts = cgroup_mounts(rt_.options_.proc);
    auto own = own_cgroups(mounts, rt_.options_.proc);
    const bool v2_only =
        std::all_of(mounts.begin(), mounts.end(), [](const CgroupMount& m) { return m.v2; });
    cg.v2 = rt_.cgroups_.version() == "v2" && v2_only;
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      const CgroupMount& m = mounts[i];
      if (m.v2 != cg.v2) continue;  // a hybrid host's cgroup2 stays the host's
      fs::path dir;
      for (const auto& d : sandbox_dirs)
        if (d.string().starts_with(m.mount_point.string() + "/")) dir = d;
      if (dir.empty()) dir = own[i].empty() ? m.mount_point : m.mount_point / own[i].substr(1);
      std::string name = m.v2 ? "" : m.mount_point.filename().string();
      cg.hierarchies.push_back({name, dir});
      // "cpu,cpuacct" is also reached as "cpu" and "cpuacct".
      if (!m.v2 && name.find(',') != std::string::npos) {
        std::size_t pos = 0;
        while (pos <= name.size()) {
          std::size_t comma = name.find(',', pos);
          if (comma == std::string::npos) comma = name.size();
          cg.links.emplace_back(name.substr(pos, comma - pos), name);
          pos = comma + 1;
        }
      }
    }
  }

  Result<> open_fds() {
    LaunchFiles& f = files_;
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
      return fail_errno("socketpair");
    f.sync_rt.reset(sp[0]);
    f.sync_child.reset(sp[1]);
    std::tie(f.report_r, f.report_w) = make_pipe();
    std::tie(f.start_r, f.start_w) = make_pipe();
    std::tie(f.execerr_r, f.execerr_w) = make_pipe();
    if (!f.report_w || !f.start_w || !f.execerr_w) return fail_errno("pipe");
    f.ctl = SVC_TRY(listen_unix(dir_, shim::kSocketName, rt_.options_.proc));
    f.null_fd.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!f.null_fd) return fail_errno("open /dev/null");
    f.pidfd_slot.reset(::fcntl(f.null_fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!f.pidfd_slot) return fail_errno("dup /dev/null");
    for (const NamespaceJoin& j : plan_.joins) {
      UniqueFd target(::open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!target) return fail_errno("open the namespace to join at " + j.path);
      fs::path own = rt_.options_.proc / "self/ns" / ns_file(j.type);
      UniqueFd mine(::open(own.c_str(), O_RDONLY | O_CLOEXEC));
      if (!mine) return fail_errno("open " + own.string());
      join_types_.push_back(j.type);
      join_fds_.push_back(target.get());
      restore_fds_.push_back(mine.get());
      f.joins.push_back(std::move(target));
      f.joins.push_back(std::move(mine));
    }
    if (spec_.terminal) {
      if (spec_.stdio == StdioMode::kInherit && options_.console_socket.empty())
        return fail(Code::kInvalidArgument,
                    "process.terminal is true: give --console-socket (where the terminal's "
                    "master is sent), or set process.terminal to false");
      if (spec_.stdio == StdioMode::kNull)
        return fail(Code::kInvalidArgument,
                    "a terminal needs the shim's stdio or a console socket");
      int cp[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cp) != 0)
        return fail_errno("socketpair for the terminal");
      f.console_r.reset(cp[0]);
      f.console_w.reset(cp[1]);
      f.console_to_shim = spec_.stdio == StdioMode::kLog;
    } else if (spec_.stdio == StdioMode::kLog && spec_.open_stdin) {
      std::tie(f.stdin_r, f.stdin_w) = make_pipe();
      if (!f.stdin_w) return fail_errno("pipe for stdin");
    }
    if (spec_.stdio == StdioMode::kLog && !spec_.terminal) {
      std::tie(f.out_r, f.out_w) = make_pipe();
      std::tie(f.err_r, f.err_w) = make_pipe();
      if (!f.out_w || !f.err_w) return fail_errno("pipe");
    } else if (spec_.stdio == StdioMode::kInherit && !spec_.terminal) {
      for (int i = 0; i < 3; ++i) {
        if (options_.stdio[i] < 0) continue;
        f.inherited[i].reset(::fcntl(options_.stdio[i], F_DUPFD_CLOEXEC, 3));
        if (!f.inherited[i]) return fail_errno("duplicate stdio fd");
      }
    }
    return {};
  }

  // The numbers of the launch's fds, as the child and the shim-to-be see them.
  LaunchFds launch_fds() const {
    const LaunchFiles& o = files_;
    LaunchFds f;
    f.report_w = o.report_w.get();
    f.sync_child = o.sync_child.get();
    f.ctl_listen = o.ctl.get();
    f.start_r = o.start_r.get();
    f.start_w = o.start_w.get();
    f.execerr_r = o.execerr_r.get();
    f.execerr_w = o.execerr_w.get();
    f.pidfd_slot = o.pidfd_slot.get();
    f.sandbox_dir = dir_path_.c_str();
    f.sandbox_procs = sandbox_procs_.data();
    f.n_sandbox_procs = static_cast<int>(sandbox_procs_.size());
    f.shim_procs = shim_procs_.data();
    f.n_shim_procs = static_cast<int>(shim_procs_.size());
    f.join_fds = join_fds_.data();
    f.join_types = join_types_.data();
    f.restore_fds = restore_fds_.data();
    f.n_joins = static_cast<int>(join_fds_.size());
    for (int& s : f.stdio) s = o.null_fd.get();
    if (o.out_w) {
      f.out_r = o.out_r.get();
      f.out_w = o.out_w.get();
      f.err_r = o.err_r.get();
      f.err_w = o.err_w.get();
      f.stdio[1] = f.out_w;
      f.stdio[2] = f.err_w;
    }
    for (int i = 0; i < 3; ++i)
      if (o.inherited[i]) f.stdio[i] = o.inherited[i].get();
    f.console_w = o.console_w.get();
    if (o.console_to_shim) f.console_r = o.console_r.get();
    if (o.stdin_w) {
      f.stdio[0] = o.stdin_r.get();
      f.stdin_w = o.stdin_w.get();
    }
    return f;
  }

  // svc-shim's command line (shim/shim_main.cpp reads it). "--pid" has a placeholder the
  // shim-to-be overwrites with the child's pid (it learns it after the clone).
  std::vector<std::string> shim_command(const LaunchFds& f) const {
    std::vector<std::string> a = {rt_.options_.shim_path.string(),
                                  "--dir",
                                  dir_.string(),
                                  "--pid",
                                  std::string(15, '0'),
                                  "--pidfd",
                                  std::to_string(f.pidfd_slot),
                                  "--ctl",
                                  std::to_string(f.ctl_listen),
                                  "--start",
                                  std::to_string(f.start_w),
                                  "--execerr",
                                  std::to_string(f.execerr_r)};
    if (spec_.stdio == StdioMode::kLog && !spec_.terminal) {
      for (std::string s :
           {std::string("--stdout"), std::to_string(f.out_r), std::string("--stderr"),
            std::to_string(f.err_r), std::string("--log-max"), std::to_string(spec_.log_max_bytes)})
        a.push_back(std::move(s));
    }
    if (f.console_r >= 0) {
      for (std::string s : {std::string("--console"), std::to_string(f.console_r),
                            std::string("--log-max"), std::to_string(spec_.log_max_bytes)})
        a.push_back(std::move(s));
    }
    if (f.stdin_w >= 0) {
      a.push_back("--stdin");
      a.push_back(std::to_string(f.stdin_w));
    }
    for (const auto& d : cgroup_dirs_) {
      a.push_back("--cgroup");
      a.push_back(d);
    }
    if (options_.start) a.push_back("--autostart");
    return a;
  }
  static constexpr std::size_t kShimPidArg = 4;  // index of the "--pid" placeholder above

  Result<> launch() {
    const LaunchFds f = launch_fds();
    std::vector<const char*> argv, envp;
    for (const auto& a : plan_.child.argv) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    for (const auto& e : plan_.child.env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    std::vector<std::string> sargs = shim_command(f);
    std::string shim_env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

    LaunchRequest req;
    req.child.plan = &plan_;
    req.child.seccomp = program_.get();
    req.child.argv = argv.data();
    req.child.envp = envp.data();
    req.child.fds = f;
    req.child.kill_with_parent = !options_.reparent;
    req.reparent = options_.reparent;
    req.child.console_rows = spec_.console_rows;
    req.child.console_cols = spec_.console_cols;
    req.null_fd = files_.null_fd.get();
    req.shim_fds = {f.ctl_listen, f.start_w, f.execerr_r, f.pidfd_slot};
    if (f.out_r >= 0) req.shim_fds.insert(req.shim_fds.end(), {f.out_r, f.err_r});
    for (int fd : {f.console_r, f.stdin_w})
      if (fd >= 0) req.shim_fds.push_back(fd);
    req.shim_path = sargs[0].c_str();
    for (auto& s : sargs) req.shim_argv.push_back(s.data());
    req.shim_argv.push_back(nullptr);
    req.pid_slot = sargs[kShimPidArg].data();
    req.shim_envp = {shim_env.data(), nullptr};

    const int timeout_ms = static_cast<int>(rt_.options_.setup_timeout.count());
    auto launched = isolation::launch(req, files_.report_r.get(), timeout_ms);
    if (!launched && !plan_.joins.empty()) {
      std::string paths;
      for (const auto& j : plan_.joins) paths += (paths.empty() ? "" : ", ") + j.path;
      return tl::unexpected(std::move(launched).error().context("namespaces " + paths));
    }
    launched_ = SVC_TRY(std::move(launched));
    pidfd_.reset(sys::pidfd_open(launched_.pid));
    if (!pidfd_) return fail_errno("pidfd_open the sandbox's first process");
    files_.close_handed_over();
    procs_.clear();
    return {};
  }

  // The host's part, now that the sandbox's user namespace exists: its id maps, the bridge's
  // veth in its network namespace, the generated /etc files (they name the bridge address),
  // then the root and bind mounts idmapped into it (a bind opens its source: the /etc files
  // must exist by then).
  Result<> host_side() {
    fs::path pid_dir = rt_.options_.proc / std::to_string(launched_.pid);
    UniqueFd userns;
    if (plan_.new_userns) {
      SVC_TRY(write_proc_file(pid_dir / "uid_map", format_id_map(plan_.uid_map)));
      SVC_TRY(write_proc_file(pid_dir / "gid_map", format_id_map(plan_.gid_map)));
      userns.reset(::open((pid_dir / "ns/user").c_str(), O_RDONLY | O_CLOEXEC));
      if (!userns) return fail_errno("open the sandbox's user namespace");
    }
    // The runtime's privilege, not the sandbox's: lowering the score needs CAP_SYS_RESOURCE.
    if (plan_.oom_score_adj)
      SVC_TRY_CTX(write_proc_file(pid_dir / "oom_score_adj", std::to_string(*plan_.oom_score_adj)),
                  "process.oomScoreAdj");
    if (plan_.network == NetworkMode::kBridge) {
      UniqueFd netns(::open((pid_dir / "ns/net").c_str(), O_RDONLY | O_CLOEXEC));
      if (!netns) return fail_errno("open the sandbox's network namespace");
      BridgeAttachment a =
          SVC_TRY_CTX(rt_.bridge().attach(dir_.string(), netns.get()), "bridge network");
      veth_ = a.host_veth;
      record_.host_veth = a.host_veth;
      record_.info.address = a.address;
    }
    SVC_TRY(write_etc_files());
    mounts_.push_back(SVC_TRY_CTX(
        prepare_rootfs(plan_.rootfs, userns.get(), rt_.options_.proc, rt_.options_.overlay_layers),
        "root file system"));
    for (const auto& b : plan_.binds)
      mounts_.push_back(
          SVC_TRY_CTX(prepare_bind(b, userns.get()), "bind mount {}", b.source.string()));
    return {};
  }

  // /etc/hosts and /etc/resolv.conf in the sandbox dir, bound over the image's (plan()).
  // Owned by the sandbox's root, so it may edit its own copy as in any container.
  Result<> write_etc_files() {
    if (!spec_.etc.generate) return {};
    ResolvConf rc{spec_.etc.nameservers, spec_.etc.search, spec_.etc.options};
    uid_t root_uid = 0;
    gid_t root_gid = 0;
    if (plan_.new_userns) {
      root_uid = map_to_host(plan_.uid_map, 0).value_or(0);
      root_gid = map_to_host(plan_.gid_map, 0).value_or(0);
    }
    for (const auto& [name, text] :
         {std::pair<const char*, std::string>{
              "hosts", format_hosts(plan_.child.hostname, record_.info.address)},
          {"resolv.conf", format_resolv_conf(rc)}}) {
      fs::path file = dir_ / name;
      // Rewritten at every create: a power loss needs no copy of it.
      SVC_TRY_CTX(write_file_atomic(file, text, 0644, Flush::kNone), "write the sandbox's /etc/{}",
                  name);
      if (::chown(file.c_str(), root_uid, root_gid) != 0)
        return fail_errno("chown " + file.string());
    }
    return {};
  }

  // The mounts go to the child, which sets itself up and says ready; the shim-to-be has exec'd
  // the shim by the time its report pipe reaches EOF.
  Result<> hand_over() {
    std::vector<int> mount_fds;
    mount_fds.reserve(mounts_.size());
    for (const auto& m : mounts_) mount_fds.push_back(m.get());
    SVC_TRY(send_go(files_.sync_rt.get(), mount_fds));
    mounts_.clear();
    SVC_TRY(await_ready(files_.sync_rt.get(), rt_.options_.setup_timeout));
    SVC_TRY_CTX(await_shim_exec(files_.report_r.get(),
                                static_cast<int>(rt_.options_.setup_timeout.count())),
                "start svc-shim {}", rt_.options_.shim_path.string());
    if (files_.console_r) {
      // The child sent its master before it said ready: it is in the socket already.
      UniqueFd master =
          SVC_TRY_CTX(receive_fd(files_.console_r.get(), rt_.options_.setup_timeout), "terminal");
      files_.console_r.reset();
      SVC_TRY(send_console(options_.console_socket, master.get()));
    }
    return {};
  }

  Result<SandboxInfo> record() {
    SandboxInfo& info = record_.info;
    info.id = id_;
    info.dir = dir_;
    info.pid = launched_.pid;
    info.shim_pid = launched_.shim_pid;
    info.shim_alive = true;
    info.created_at = std::chrono::system_clock::now();
    if (plan_.new_userns) info.ids = {*map_to_host(plan_.uid_map, 0), plan_.uid_map[0].size};
    info.cgroup = plan_.cgroup;
    info.network = plan_.network;
    info.bundle = options_.bundle;
    info.annotations = spec_.annotations;
    info.stop_signal = spec_.stop_signal;
    info.stop_grace = spec_.stop_grace;
    record_.pid_start = process_start_time(rt_.options_.proc, launched_.pid);
    SVC_TRY(write_sandbox_record(dir_, record_));
    SVC_TRY(write_exec_defaults(dir_, exec_defaults_from_plan(plan_, spec_), program_.get()));
    SandboxInfo out = info;
    out.status = options_.start ? SandboxStatus::kRunning : SandboxStatus::kCreated;
    return out;
  }

  Runtime& rt_;
  const std::string id_;
  const fs::path dir_;
  const std::string dir_path_;  // dir_ as the C string the child opens
  const SandboxSpec& spec_;
  const CreateOptions& options_;
  StepTimer timer_;

  SandboxSpec with_etc_;  // spec_ with the generated /etc files' binds first (when generated)
  Plan plan_;
  std::shared_ptr<const seccomp::Program> program_;
  bool ids_allocated_ = false;
  std::string cgroup_;                    // made: removed by undo()
  std::vector<UniqueFd> procs_;           // the sandbox's cgroup.procs, one per hierarchy
  std::vector<int> sandbox_procs_;        // their numbers
  std::vector<std::string> cgroup_dirs_;  // their directories (the shim's --cgroup)
  std::vector<int> shim_procs_;           // the shims' cgroup.procs (owned by the runtime)
  std::vector<int> join_fds_, join_types_, restore_fds_;  // numbers of files_.joins, by join
  LaunchFiles files_;
  Launched launched_;
  UniqueFd pidfd_;                // the sandbox's first process: killed by undo()
  std::vector<UniqueFd> mounts_;  // detached mounts for the child, root first
  std::string veth_;              // attached: detached by undo()
  SandboxRecord record_;
};

Result<SandboxInfo> Runtime::create(std::string_view id, const SandboxSpec& spec,
                                    const CreateOptions& options) {
  SVC_TRY_CTX(validate_sandbox_id(id), "create sandbox");
  SVC_TRY_CTX(make_dirs(options_.state_dir, 0711), "create sandbox {}", id);
  fs::path dir = sandbox_dir(id);
  // 0711: the sandbox's root (an unprivileged host uid) may pass through to attach its root at
  // <dir>/rootfs, and may list nothing.
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST)
      return fail(Code::kAlreadyExists, "create sandbox {}: it already exists (remove it first)",
                  id);
    return fail_errno("create sandbox " + std::string(id) + ": mkdir " + dir.string());
  }
  ::chmod(dir.c_str(), 0711);
  Creator creator(*this, id, dir, spec, options);
  auto info = creator.run();
  if (info) return info;
  creator.undo();
  return tl::unexpected(std::move(info).error().context(fmt::format("create sandbox {}", id)));
}

}  // namespace svc::isolation
