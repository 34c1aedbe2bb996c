#include "isolation/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "isolation/etc_files.hpp"
#include "isolation/launch.hpp"
#include "isolation/plan.hpp"
#include "isolation/rootfs.hpp"
#include "isolation/sandbox_state.hpp"
#include "isolation/shim/protocol.hpp"
#include "isolation/shim_cgroup.hpp"
#include "isolation/shim_client.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

struct ShimCgroupsHolder {
  ShimCgroups cgroups;
};

// What a create has made so far, for undoing it when a later step fails.
struct Runtime::Launch {
  fs::path dir;
  UniqueFd pidfd;  // the sandbox's first process
  std::string cgroup;
  bool ids_allocated = false;
  std::string veth;
};

namespace {

// glibc 2.36's <sys/pidfd.h> lacks extern "C": call the syscalls directly.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_kill(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::pair<UniqueFd, UniqueFd> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  return {UniqueFd(p[0]), UniqueFd(p[1])};
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

std::optional<ExitRecord> read_exit(const fs::path& dir) {
  auto text = read_file(dir / shim::kExitFile);
  if (!text) return std::nullopt;
  auto r = parse_exit_record(*text);
  if (!r) return std::nullopt;
  return *r;
}

ExitRecord lost_record() {
  ExitRecord r;
  r.shim_lost = true;
  r.exited_at = std::chrono::system_clock::now();
  r.error = "the shim died without recording how the task ended";
  return r;
}

}  // namespace

std::string_view status_name(SandboxStatus s) {
  switch (s) {
    case SandboxStatus::kCreated:
      return "created";
    case SandboxStatus::kRunning:
      return "running";
    case SandboxStatus::kStopped:
      return "stopped";
  }
  return "stopped";
}

Runtime::Runtime(RuntimeOptions options, CgroupDriver& cgroups, seccomp::Compiler& seccomp,
                 UidPool& ids)
    : options_(std::move(options)), cgroups_(cgroups), seccomp_(seccomp), ids_(ids) {
  if (auto text = read_file(options_.proc / "sys/kernel/cap_last_cap")) {
    int v = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec == std::errc() && v > 0 && v < 64) cap_last_cap_ = v;
  }
  if (options_.bridge.ipam_file.empty())
    options_.bridge.ipam_file = options_.state_dir / "bridge-addresses";
}

Runtime::~Runtime() = default;

NetnsWorker& Runtime::netns_worker() {
  // Made on first use: a short-lived svc-runtime should not start a thread it never needs.
  std::lock_guard lock(mu_);
  if (!netns_) netns_ = std::make_unique<NetnsWorker>();
  return *netns_;
}

Bridge& Runtime::bridge() {
  NetnsWorker& worker = netns_worker();
  std::lock_guard lock(mu_);
  if (!bridge_) bridge_ = std::make_unique<Bridge>(options_.bridge, worker);
  return *bridge_;
}

fs::path Runtime::sandbox_dir(std::string_view id) const { return options_.state_dir / id; }

Result<std::vector<int>> Runtime::shim_cgroup_fds(
    const std::vector<fs::path>& sandbox_cgroup_dirs) {
  std::lock_guard lock(mu_);
  if (!shim_cgroups_) {
    auto mounts = cgroup_mounts(options_.proc);
    auto holder = std::make_shared<ShimCgroupsHolder>(ShimCgroupsHolder{ShimCgroups::open(
        mounts, own_cgroups(mounts, options_.proc), options_.shim_cgroup, sandbox_cgroup_dirs)});
    for (const auto& s : holder->cgroups.skipped())
      spdlog::debug("shims' cgroup: skipped a hierarchy: {}", s);
    shim_cgroups_ = holder;
  }
  return shim_cgroups_->cgroups.fds();
}

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
  Launch undo;
  undo.dir = dir;
  auto info = create_locked(id, spec, options, undo);
  if (info) return info;
  // Undo in reverse: the processes, the cgroup, the network, the id range, the directory.
  if (undo.pidfd) pidfd_kill(undo.pidfd.get(), SIGKILL);
  if (!undo.cgroup.empty()) {
    (void)cgroups_.kill_all(undo.cgroup, SIGKILL);
    if (auto r = cgroups_.remove(undo.cgroup); !r)
      spdlog::warn("create sandbox {}: undo: {}", id, r.error().message());
  }
  if (!undo.veth.empty()) (void)bridge().detach(dir.string(), undo.veth);
  if (undo.ids_allocated) (void)ids_.release(dir.string());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return tl::unexpected(std::move(info).error().context(fmt::format("create sandbox {}", id)));
}

Result<SandboxInfo> Runtime::create_locked(std::string_view id, const SandboxSpec& spec,
                                           const CreateOptions& options, Launch& undo) {
  const fs::path& dir = undo.dir;
  // Where a start's time goes, for `svc-runtime --debug` and the daemon's debug log.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::pair<const char*, std::chrono::steady_clock::time_point>> marks;
  auto mark = [&](const char* what) { marks.emplace_back(what, std::chrono::steady_clock::now()); };
  PlanContext ctx;
  ctx.id = std::string(id);
  ctx.sandbox_dir = dir;
  ctx.cap_last_cap = cap_last_cap_;
  ctx.cgroup = options_.cgroup_parent.empty() ? std::string(id)
                                              : options_.cgroup_parent + "/" + std::string(id);
  if (spec.uid_mappings.empty()) {
    ctx.ids = SVC_TRY(ids_.allocate(dir.string()));
    undo.ids_allocated = true;
  }
  for (const Rlimit& r : spec.process.rlimits) {
    struct rlimit host {};
    if (r.resource >= 0 && r.resource < RLIM_NLIMITS &&
        ::getrlimit(static_cast<__rlimit_resource_t>(r.resource), &host) == 0)
      ctx.host_hard_limits[r.resource] = host.rlim_max;
  }
  // Generated /etc files are bound first, so that a mount the caller asks for at the same path
  // wins. Their contents are written once the bridge address is known (below).
  SandboxSpec with_etc;
  const SandboxSpec* planned = &spec;
  if (spec.etc.generate) {
    with_etc = spec;
    std::vector<MountSpec> etc;
    for (const char* name : {"hosts", "resolv.conf"}) {
      MountSpec m;
      m.source = dir / name;
      m.target = std::string("/etc/") + name;
      m.recursive = false;
      m.noexec = true;
      etc.push_back(std::move(m));
    }
    with_etc.mounts.insert(with_etc.mounts.begin(), etc.begin(), etc.end());
    planned = &with_etc;
  }
  Plan plan = SVC_TRY(plan_sandbox(*planned, ctx));
  if (plan.binds.size() > 200)
    return fail(Code::kInvalidArgument, "{} bind mounts (at most 200)", plan.binds.size());
  std::shared_ptr<const seccomp::Program> program;
  if (spec.seccomp) program = SVC_TRY_CTX(seccomp_.compile(*spec.seccomp), "seccomp profile");

  // The root's mount point and the overlay's private dirs; the upper dir's root is the
  // sandbox's "/", owned by its root.
  SVC_TRY(make_dirs(plan.rootfs.staging, 0755));
  if (plan.rootfs.overlay) {
    SVC_TRY(make_dirs(plan.rootfs.upper, 0755));
    SVC_TRY(make_dirs(plan.rootfs.work, 0700));
    uid_t root_uid = *map_to_host(plan.uid_map, 0);
    gid_t root_gid = *map_to_host(plan.gid_map, 0);
    if (::chown(plan.rootfs.upper.c_str(), root_uid, root_gid) != 0)
      return fail_errno("chown " + plan.rootfs.upper.string());
  }

  mark("plan");
  SVC_TRY_CTX(cgroups_.create(plan.cgroup, plan.limits), "cgroup {}", plan.cgroup);
  undo.cgroup = plan.cgroup;
  std::vector<UniqueFd> procs =
      SVC_TRY_CTX(cgroups_.open_procs_files(plan.cgroup), "cgroup {}", plan.cgroup);
  std::vector<int> sandbox_procs;
  std::vector<std::string> cgroup_dirs;
  for (const auto& p : procs) {
    sandbox_procs.push_back(p.get());
    std::error_code ec;
    fs::path target = fs::read_symlink(options_.proc / "self/fd" / std::to_string(p.get()), ec);
    if (!ec) cgroup_dirs.push_back(target.parent_path().string());
  }
  std::vector<fs::path> cgroup_paths(cgroup_dirs.begin(), cgroup_dirs.end());
  std::vector<int> shim_procs = SVC_TRY(shim_cgroup_fds(cgroup_paths));

  // Every fd of the launch, close-on-exec here; launch.hpp says who keeps which.
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
    return fail_errno("socketpair");
  UniqueFd sync_rt(sp[0]), sync_child(sp[1]);
  auto [report_r, report_w] = make_pipe();
  auto [start_r, start_w] = make_pipe();
  auto [execerr_r, execerr_w] = make_pipe();
  if (!report_w || !start_w || !execerr_w) return fail_errno("pipe");
  UniqueFd ctl = SVC_TRY(listen_unix(dir, shim::kSocketName, options_.proc));
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) return fail_errno("open /dev/null");
  UniqueFd pidfd_slot(::fcntl(null_fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!pidfd_slot) return fail_errno("dup /dev/null");
  std::string dir_path = dir.string();
  UniqueFd out_r, out_w, err_r, err_w;
  std::array<UniqueFd, 3> inherited;
  LaunchFds f;
  f.report_w = report_w.get();
  f.sync_child = sync_child.get();
  f.ctl_listen = ctl.get();
  f.start_r = start_r.get();
  f.start_w = start_w.get();
  f.execerr_r = execerr_r.get();
  f.execerr_w = execerr_w.get();
  f.pidfd_slot = pidfd_slot.get();
  f.sandbox_dir = dir_path.c_str();
  f.sandbox_procs = sandbox_procs.data();
  f.n_sandbox_procs = static_cast<int>(sandbox_procs.size());
  f.shim_procs = shim_procs.data();
  f.n_shim_procs = static_cast<int>(shim_procs.size());
  for (int& s : f.stdio) s = null_fd.get();
  if (spec.stdio == StdioMode::kLog) {
    std::tie(out_r, out_w) = make_pipe();
    std::tie(err_r, err_w) = make_pipe();
    if (!out_w || !err_w) return fail_errno("pipe");
    f.out_r = out_r.get();
    f.out_w = out_w.get();
    f.err_r = err_r.get();
    f.err_w = err_w.get();
    f.stdio[1] = f.out_w;
    f.stdio[2] = f.err_w;
  } else if (spec.stdio == StdioMode::kInherit) {
    for (int i = 0; i < 3; ++i) {
      if (options.stdio[i] < 0) continue;
      inherited[i].reset(::fcntl(options.stdio[i], F_DUPFD_CLOEXEC, 3));
      if (!inherited[i]) return fail_errno("duplicate stdio fd");
      f.stdio[i] = inherited[i].get();
    }
  }

  std::vector<const char*> argv, envp;
  for (const auto& a : plan.child.argv) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  for (const auto& e : plan.child.env) envp.push_back(e.c_str());
  envp.push_back(nullptr);

  std::vector<std::string> sargs = {options_.shim_path.string(),
                                    "--dir",
                                    dir.string(),
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
  if (spec.stdio == StdioMode::kLog) {
    for (std::string s :
         {std::string("--stdout"), std::to_string(f.out_r), std::string("--stderr"),
          std::to_string(f.err_r), std::string("--log-max"), std::to_string(spec.log_max_bytes)})
      sargs.push_back(std::move(s));
  }
  for (const auto& d : cgroup_dirs) {
    sargs.push_back("--cgroup");
    sargs.push_back(d);
  }
  if (options.start) sargs.push_back("--autostart");
  std::string shim_env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

  LaunchRequest req;
  req.child.plan = &plan;
  req.child.seccomp = program.get();
  req.child.argv = argv.data();
  req.child.envp = envp.data();
  req.child.fds = f;
  req.null_fd = null_fd.get();
  req.shim_fds = {f.ctl_listen, f.start_w, f.execerr_r, f.pidfd_slot};
  if (f.out_r >= 0) req.shim_fds.insert(req.shim_fds.end(), {f.out_r, f.err_r});
  req.shim_path = sargs[0].c_str();
  for (auto& s : sargs) req.shim_argv.push_back(s.data());
  req.shim_argv.push_back(nullptr);
  req.pid_slot = sargs[4].data();
  req.shim_envp = {shim_env.data(), nullptr};

  mark("cgroup");
  Launched l =
      SVC_TRY(launch(req, report_r.get(), static_cast<int>(options_.setup_timeout.count())));
  mark("launch");
  undo.pidfd.reset(pidfd_open(l.pid));
  if (!undo.pidfd) return fail_errno("pidfd_open the sandbox's first process");
  // The shim and the child have their copies now; ours would hide EOFs they wait for.
  for (UniqueFd* fd :
       {&sync_child, &report_w, &start_r, &start_w, &execerr_r, &execerr_w, &ctl, &null_fd,
        &pidfd_slot, &out_r, &out_w, &err_r, &err_w, &inherited[0], &inherited[1], &inherited[2]})
    fd->reset();
  procs.clear();

  // The host's part, now that the sandbox's user namespace exists.
  fs::path pid_dir = options_.proc / std::to_string(l.pid);
  SVC_TRY(write_proc_file(pid_dir / "uid_map", format_id_map(plan.uid_map)));
  SVC_TRY(write_proc_file(pid_dir / "gid_map", format_id_map(plan.gid_map)));
  UniqueFd userns(::open((pid_dir / "ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns) return fail_errno("open the sandbox's user namespace");
  SandboxRecord record;
  if (plan.network == NetworkMode::kBridge) {
    UniqueFd netns(::open((pid_dir / "ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) return fail_errno("open the sandbox's network namespace");
    BridgeAttachment a = SVC_TRY_CTX(bridge().attach(dir.string(), netns.get()), "bridge network");
    undo.veth = a.host_veth;
    record.host_veth = a.host_veth;
    record.info.address = a.address;
  }
  if (spec.etc.generate) {
    // Owned by the sandbox's root, so it may edit its own copy as in any container.
    ResolvConf rc{spec.etc.nameservers, spec.etc.search, spec.etc.options};
    uid_t root_uid = *map_to_host(plan.uid_map, 0);
    gid_t root_gid = *map_to_host(plan.gid_map, 0);
    for (const auto& [name, text] :
         {std::pair<const char*, std::string>{
              "hosts", format_hosts(plan.child.hostname, record.info.address)},
          {"resolv.conf", format_resolv_conf(rc)}}) {
      fs::path file = dir / name;
      SVC_TRY_CTX(write_file_atomic(file, text, 0644), "write the sandbox's /etc/{}", name);
      if (::chown(file.c_str(), root_uid, root_gid) != 0)
        return fail_errno("chown " + file.string());
    }
  }
  std::vector<UniqueFd> mounts;
  mounts.push_back(
      SVC_TRY_CTX(prepare_rootfs(plan.rootfs, userns.get(), options_.proc), "root file system"));
  for (const auto& b : plan.binds)
    mounts.push_back(
        SVC_TRY_CTX(prepare_bind(b, userns.get()), "bind mount {}", b.source.string()));
  mark("host mounts");
  std::vector<int> mount_fds;
  mount_fds.reserve(mounts.size());
  for (const auto& m : mounts) mount_fds.push_back(m.get());
  SVC_TRY(send_go(sync_rt.get(), mount_fds));
  mounts.clear();
  SVC_TRY(await_ready(sync_rt.get(), options_.setup_timeout));
  mark("in-sandbox set-up");
  SVC_TRY_CTX(await_shim_exec(report_r.get(), static_cast<int>(options_.setup_timeout.count())),
              "start svc-shim {}", options_.shim_path.string());

  SandboxInfo& info = record.info;
  info.id = std::string(id);
  info.dir = dir;
  info.pid = l.pid;
  info.shim_pid = l.shim_pid;
  info.shim_alive = true;
  info.created_at = std::chrono::system_clock::now();
  info.ids = {*map_to_host(plan.uid_map, 0), plan.uid_map[0].size};
  info.cgroup = plan.cgroup;
  info.network = plan.network;
  info.bundle = options.bundle;
  info.annotations = spec.annotations;
  info.stop_signal = spec.stop_signal;
  info.stop_grace = spec.stop_grace;
  record.pid_start = process_start_time(options_.proc, l.pid);
  SVC_TRY(write_sandbox_record(dir, record));
  mark("shim, state");
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string steps;
    auto prev = t0;
    for (const auto& [what, at] : marks) {
      steps += fmt::format(" {} {:.2f},", what,
                           std::chrono::duration<double, std::milli>(at - prev).count());
      prev = at;
    }
    spdlog::debug("create sandbox {}: ms:{} total {:.2f}", id, steps,
                  std::chrono::duration<double, std::milli>(prev - t0).count());
  }
  info.status = options.start ? SandboxStatus::kRunning : SandboxStatus::kCreated;
  return info;
}

Result<SandboxInfo> Runtime::read_info(std::string_view id) {
  SVC_TRY(validate_sandbox_id(id));
  fs::path dir = sandbox_dir(id);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail(Code::kNotFound, "sandbox {} does not exist", id);
  auto rec = read_sandbox_record(dir);
  if (!rec) return tl::unexpected(std::move(rec).error().context(fmt::format("sandbox {}", id)));
  return rec->info;
}

Result<SandboxInfo> Runtime::state(std::string_view id) {
  SandboxInfo info = SVC_TRY(read_info(id));
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto e = read_exit(info.dir)) {
      info.status = SandboxStatus::kStopped;
      info.exit = std::move(e);
      return info;
    }
    auto reply = shim_request(info.dir, "state", std::chrono::seconds(5));
    if (reply) {
      info.shim_alive = true;
      info.status =
          reply->starts_with("created") ? SandboxStatus::kCreated : SandboxStatus::kRunning;
      return info;
    }
    if (reply.error().code() != Code::kUnavailable)
      return tl::unexpected(std::move(reply).error().context(fmt::format("sandbox {}", id)));
    // No shim: either it just finished (exit.json now exists) or it died without a record.
  }
  info.status = SandboxStatus::kStopped;
  info.exit = lost_record();
  return info;
}

Result<> Runtime::start(std::string_view id) {
  SandboxInfo info = SVC_TRY(read_info(id));
  SVC_TRY_CTX(shim_request(info.dir, "start", options_.setup_timeout), "start sandbox {}", id);
  return {};
}

Result<> Runtime::kill(std::string_view id, int signal, bool all) {
  SandboxInfo info = SVC_TRY(read_info(id));
  if (signal <= 0 || signal >= 65)
    return fail(Code::kInvalidArgument, "kill sandbox {}: bad signal {}", id, signal);
  if (all) {
    SVC_TRY_CTX(cgroups_.kill_all(info.cgroup, signal), "kill sandbox {}", id);
    return {};
  }
  auto r = shim_request(info.dir, fmt::format("kill {}", signal));
  if (!r && r.error().code() == Code::kUnavailable)
    return fail(Code::kFailedPrecondition, "kill sandbox {}: it is not running", id);
  if (!r) return tl::unexpected(std::move(r).error().context(fmt::format("kill sandbox {}", id)));
  return {};
}

Result<> Runtime::stop(std::string_view id, std::optional<int> signal,
                       std::optional<milliseconds> grace) {
  SandboxInfo info = SVC_TRY(state(id));
  if (info.status == SandboxStatus::kStopped) return {};
  int sig = signal.value_or(info.stop_signal);
  milliseconds g = grace.value_or(info.stop_grace);
  // A created sandbox has not exec'd its task: nothing in it can handle a signal.
  if (info.status == SandboxStatus::kCreated) {
    sig = SIGKILL;
    g = milliseconds(0);
  }
  auto r = shim_request(info.dir, fmt::format("stop {} {}", sig, g.count()));
  if (!r && r.error().code() == Code::kUnavailable) return {};  // it ended meanwhile
  if (!r) return tl::unexpected(std::move(r).error().context(fmt::format("stop sandbox {}", id)));
  return {};
}

Result<ExitRecord> Runtime::wait(std::string_view id, std::optional<milliseconds> timeout) {
  SandboxInfo info = SVC_TRY(read_info(id));
  if (auto e = read_exit(info.dir)) return *e;
  auto fd = connect_unix(info.dir, shim::kSocketName, false, options_.proc);
  if (!fd) {
    if (auto e = read_exit(info.dir)) return *e;
    if (fd.error().code() == Code::kUnavailable) return lost_record();
    return tl::unexpected(std::move(fd).error().context(fmt::format("wait for sandbox {}", id)));
  }
  if (::send(fd->get(), "wait\n", 5, MSG_NOSIGNAL) != 5) {
    // The shim exited between our connect and the send: its record is on disk by then.
    if (auto e = read_exit(info.dir)) return *e;
    return fail_errno("wait for sandbox " + std::string(id) + ": send to the shim");
  }
  auto line = read_line(fd->get(), timeout.value_or(std::chrono::hours(24 * 365)));
  if (!line) {
    if (line.error().code() == Code::kDeadlineExceeded)
      return fail(Code::kDeadlineExceeded, "wait for sandbox {}: still running after {} ms", id,
                  timeout ? timeout->count() : 0);
    // A connection the exiting shim never accepted is reset; the record is on disk by then.
    if (auto e = read_exit(info.dir)) return *e;
    return tl::unexpected(std::move(line).error().context(fmt::format("wait for sandbox {}", id)));
  }
  if (line->starts_with("exit ")) {
    auto r = parse_exit_record(std::string_view(*line).substr(5));
    if (r) return r;
  }
  if (auto e = read_exit(info.dir)) return *e;
  return lost_record();
}

Result<CgroupStats> Runtime::stats(std::string_view id) {
  SandboxInfo info = SVC_TRY(read_info(id));
  return SVC_TRY_CTX(cgroups_.stats(info.cgroup), "stats of sandbox {}", id);
}

Result<> Runtime::remove(std::string_view id, bool force) {
  SVC_TRY(validate_sandbox_id(id));
  fs::path dir = sandbox_dir(id);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return fail(Code::kNotFound, "remove sandbox {}: it does not exist", id);
  auto rec = read_sandbox_record(dir);
  std::string cgroup =
      rec ? rec->info.cgroup
          : (options_.cgroup_parent.empty() ? std::string(id)
                                            : options_.cgroup_parent + "/" + std::string(id));
  if (rec) {
    auto info = SVC_TRY(state(id));
    if (info.status == SandboxStatus::kRunning && !force)
      return fail(Code::kFailedPrecondition,
                  "remove sandbox {}: it is running; stop it first or force the removal", id);
    if (info.status != SandboxStatus::kStopped) {
      (void)shim_request(dir, "kill 9", std::chrono::seconds(2));
      (void)cgroups_.kill_all(cgroup, SIGKILL);
      SVC_TRY_CTX(wait(id, std::chrono::seconds(10)), "remove sandbox {}", id);
    }
  }
  // Anything left (a lost shim's task, a forked child outside the first process's reach). The
  // freezer dance of kill_all costs time, so only when something is there.
  if (auto left = cgroups_.pids(cgroup); left && !left->empty()) {
    if (auto r = cgroups_.kill_all(cgroup, SIGKILL); !r)
      spdlog::debug("remove sandbox {}: kill: {}", id, r.error().message());
  }
  SVC_TRY_CTX(cgroups_.remove(cgroup), "remove sandbox {}", id);
  if (rec && !rec->host_veth.empty())
    SVC_TRY_CTX(bridge().detach(dir.string(), rec->host_veth), "remove sandbox {}", id);
  SVC_TRY_CTX(ids_.release(dir.string()), "remove sandbox {}", id);
  // The shim unlinks its socket as it exits; a vanishing entry is not an error.
  std::error_code ec;
  for (int attempt = 0; attempt < 3; ++attempt) {
    fs::remove_all(dir, ec);
    if (!ec) return {};
  }
  return fail(Code::kInternal, "remove sandbox {}: delete {}: {}", id, dir.string(), ec.message());
}

Result<std::vector<SandboxInfo>> Runtime::list() {
  std::vector<SandboxInfo> out;
  std::error_code ec;
  fs::directory_iterator it(options_.state_dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return fail(Code::kInternal, "list sandboxes in {}: {}", options_.state_dir.string(),
                ec.message());
  }
  for (const auto& entry : it) {
    if (!entry.is_directory(ec)) continue;
    std::string id = entry.path().filename().string();
    if (!validate_sandbox_id(id)) continue;
    auto info = state(id);
    if (info) {
      out.push_back(std::move(*info));
      continue;
    }
    // A directory without a readable state.json: a create that was cut short. Listed as
    // stopped so that remove() cleans it up.
    SandboxInfo broken;
    broken.id = id;
    broken.dir = entry.path();
    broken.status = SandboxStatus::kStopped;
    ExitRecord r = lost_record();
    r.error = info.error().message();
    broken.exit = r;
    out.push_back(std::move(broken));
  }
  return out;
}

Runtime::Orphans Runtime::remove_orphans(const std::set<std::string>& known) {
  Orphans out;
  if (auto all = list(); all) {
    for (const auto& s : *all) {
      if (known.count(s.id)) continue;
      if (auto r = remove(s.id, true); r)
        out.sandboxes.push_back(s.id);
      else
        out.errors.push_back(r.error().message());
    }
  } else {
    out.errors.push_back(all.error().message());
  }
  // A cgroup whose sandbox dir is gone (a create or removal cut short between the two).
  const std::string& parent = options_.cgroup_parent;
  if (auto children = cgroups_.children(parent); children) {
    for (const auto& name : *children) {
      if (known.count(name) || !validate_sandbox_id(name)) continue;
      std::error_code ec;
      if (fs::exists(sandbox_dir(name), ec)) continue;  // remove() above had its reasons
      std::string cg = parent.empty() ? name : parent + "/" + name;
      (void)cgroups_.kill_all(cg, SIGKILL);
      if (auto r = cgroups_.remove(cg); r)
        out.cgroups.push_back(cg);
      else
        out.errors.push_back(r.error().message());
    }
  } else {
    out.errors.push_back(children.error().message());
  }
  // Id ranges whose sandbox dir is gone. Only owners below this runtime's state dir: the pool
  // file may be shared.
  std::string prefix = (options_.state_dir / "").string();
  auto released = ids_.release_if([&](const std::string& owner) {
    if (!owner.starts_with(prefix)) return false;
    std::string id = fs::path(owner).filename().string();
    std::error_code ec;
    return !known.count(id) && !fs::exists(owner, ec);
  });
  if (released)
    out.id_ranges = std::move(*released);
  else
    out.errors.push_back(released.error().message());
  return out;
}

Result<UniqueFd> Runtime::open_netns(std::string_view id) {
  auto rec = SVC_TRY(read_sandbox_record(sandbox_dir(id)));
  UniqueFd pidfd(pidfd_open(rec.info.pid));
  if (!pidfd || process_start_time(options_.proc, rec.info.pid) != rec.pid_start)
    return fail(Code::kFailedPrecondition, "sandbox {} is not running", id);
  UniqueFd ns(::open((options_.proc / std::to_string(rec.info.pid) / "ns/net").c_str(),
                     O_RDONLY | O_CLOEXEC));
  if (!ns) return fail_errno("open the network namespace of sandbox " + std::string(id));
  // Still the same process after the open (its pid was not reused meanwhile)?
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) != 0)
    return fail(Code::kFailedPrecondition, "sandbox {} is not running", id);
  return ns;
}

Result<UniqueFd> Runtime::socket_in(std::string_view id, int domain, int type, int protocol) {
  UniqueFd ns = SVC_TRY(open_netns(id));
  return netns_worker().socket_in(ns.get(), domain, type, protocol);
}

Result<UniqueFd> Runtime::connect_tcp(std::string_view id, std::uint16_t port,
                                      milliseconds timeout) {
  UniqueFd fd = SVC_TRY(socket_in(id, AF_INET, SOCK_STREAM));
  SVC_TRY_CTX(connect_loopback(fd.get(), port, timeout), "sandbox {}", id);
  return fd;
}

}  // namespace svc::isolation
