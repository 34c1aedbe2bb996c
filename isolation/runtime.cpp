#include "isolation/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "common/syscall.hpp"
#include "isolation/plan.hpp"
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

namespace {

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

Result<std::optional<std::string>> Runtime::await_exec(std::string_view id) {
  SandboxInfo info = SVC_TRY(read_info(id));
  auto r = shim_request(info.dir, "started", options_.setup_timeout);
  if (r) {
    if (!r->starts_with("failed ")) return std::optional<std::string>();
    // "failed <errno> <text>"
    auto sp = r->find(' ', 7);
    return std::optional<std::string>(sp == std::string::npos ? *r : r->substr(sp + 1));
  }
  // The task may have ended, and its shim with it, before the question: its exit record
  // answers.
  auto st = SVC_TRY_CTX(state(id), "sandbox {}: was its program exec'd", id);
  if (st.exit && !st.exit->error.empty() && !st.exit->shim_lost)
    return std::optional<std::string>(st.exit->error);
  if (st.exit) return std::optional<std::string>();
  return tl::unexpected(
      std::move(r).error().context(fmt::format("sandbox {}: was its program exec'd", id)));
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
  // A sandbox without a mount namespace of its own was set up in ours (runc does the same): its
  // root and everything below it are still attached at <dir>/rootfs. Not a mount point (every
  // other sandbox): EINVAL, nothing to do.
  ::umount2((dir / "rootfs").c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
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
  UniqueFd pidfd(sys::pidfd_open(rec.info.pid));
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
