#include "daemon/adapters/task_runtime.hpp"

#include <unistd.h>

#include <csignal>

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "isolation/etc_files.hpp"
#include "isolation/image_user.hpp"

namespace svc::daemon {

namespace {
namespace sch = svc::scheduler;
namespace iso = svc::isolation;
// Where svc-init is bound in a task run with init (as docker's /sbin/docker-init, but on the
// sandbox's private /dev tmpfs, so no mount point is made in the image's tree).
constexpr std::string_view kInitPath = "/dev/init";
}  // namespace

Result<iso::SandboxSpec> TaskRuntimeAdapter::to_sandbox_spec(const sch::LaunchSpec& l,
                                                             const Dns& dns,
                                                             const std::filesystem::path& init) {
  iso::SandboxSpec s;
  s.process.args = l.args;
  if (l.init) {
    // Bound from the host, read-only, on the sandbox's own /dev: nothing of the image is
    // changed, and an image without a libc runs it too (it is static).
    if (init.empty() || ::access(init.c_str(), X_OK) != 0)
      return fail(Code::kFailedPrecondition,
                  "--init: svc-init is not installed beside svcd (looked for {}); install it or "
                  "set SVC_INIT to its path",
                  init.empty() ? std::string("svc-init") : init.string());
    iso::MountSpec m;
    m.type = iso::MountSpec::Type::kBind;
    m.source = init;
    m.target = std::string(kInitPath);
    m.readonly = true;
    m.recursive = false;
    s.mounts.push_back(std::move(m));
    s.process.args = {std::string(kInitPath), "--"};
    s.process.args.insert(s.process.args.end(), l.args.begin(), l.args.end());
  }
  s.terminal = l.tty;
  s.open_stdin = l.open_stdin;
  s.process.env = l.env;
  s.process.cwd = l.workdir.empty() ? "/" : l.workdir;
  for (const auto& d : l.lower_dirs) s.rootfs.lower.emplace_back(d);
  auto user = SVC_TRY_CTX(iso::resolve_image_user(s.rootfs.lower, l.user), "user \"{}\"", l.user);
  s.process.uid = user.uid;
  s.process.gid = user.gid;
  s.process.additional_gids = user.additional_gids;
  s.hostname = l.hostname;
  if (s.rootfs.lower.empty())
    return fail(Code::kInvalidArgument, "the image has no layers to make a root filesystem of");
  // The request is a weight under contention; only a limit is a CFS quota.
  s.resources.cpu_millis = l.cpu_millis;
  if (l.cpu_request_millis > 0) s.resources.cpu_shares = sch::cpu_shares_for(l.cpu_request_millis);
  s.resources.memory_bytes = l.memory_bytes;
  s.resources.pids = l.pids;
  switch (l.network) {
    case sch::NetworkMode::kPrivate:
      s.network = iso::NetworkMode::kPrivate;
      break;
    case sch::NetworkMode::kBridge:
      s.network = iso::NetworkMode::kBridge;
      break;
    case sch::NetworkMode::kNone:
      s.network = iso::NetworkMode::kNone;
      break;
  }
  // Its own /etc/hosts and /etc/resolv.conf, whatever the image ships (as Docker does).
  s.etc.generate = true;
  if (l.network == sch::NetworkMode::kBridge) {
    auto host = read_file(dns.host_resolv_conf, 64 * 1024);
    auto rc = iso::sandbox_resolv_conf(iso::parse_resolv_conf(host ? *host : std::string()),
                                       dns.nameservers);
    s.etc.nameservers = rc.nameservers;
    s.etc.search = rc.search;
    s.etc.options = rc.options;
  }
  s.stop_signal = l.stop_signal;
  s.stop_grace = l.stop_grace;
  s.annotations["svc.task"] = l.id;
  return s;
}

sch::ExitInfo TaskRuntimeAdapter::to_exit_info(const iso::ExitRecord& r) {
  sch::ExitInfo i;
  i.exit_code = r.exit_code;
  i.signal = r.signal;
  i.oom_killed = r.oom_killed;
  i.started_at = r.started_at;
  i.exited_at = r.exited_at;
  i.cpu_seconds = r.cpu_seconds;
  i.memory_peak_bytes = r.memory_peak_bytes;
  i.lost = r.shim_lost;
  i.error = r.error;
  return i;
}

Result<int> TaskRuntimeAdapter::launch(const sch::LaunchSpec& spec) {
  auto sandbox = SVC_TRY(to_sandbox_spec(spec, dns_, init_));
  iso::CreateOptions options;
  options.start = !spec.hold;
  auto info = SVC_TRY(runtime_.create(spec.id, sandbox, options));
  return static_cast<int>(info.pid);
}

Result<> TaskRuntimeAdapter::watch(const std::string& id,
                                   std::function<void(sch::ExitInfo)> on_exit) {
  return monitor_.watch(id, runtime_.sandbox_dir(id),
                        [cb = std::move(on_exit)](const std::string&, const iso::ExitRecord& r) {
                          cb(to_exit_info(r));
                        });
}

Result<> TaskRuntimeAdapter::signal(const std::string& id, int sig) {
  // SIGKILL goes to every process of the sandbox (through its cgroup), others to the first.
  return runtime_.kill(id, sig, sig == SIGKILL);
}

Result<> TaskRuntimeAdapter::stop(const std::string& id, int sig, sch::Millis grace) {
  return runtime_.stop(id, sig, grace);
}

Result<sch::TaskUsage> TaskRuntimeAdapter::stats(const std::string& id) {
  auto s = SVC_TRY(runtime_.stats(id));
  sch::TaskUsage u;
  u.cpu_seconds = s.cpu_seconds;
  u.memory_now_bytes = s.memory_bytes;
  u.memory_peak_bytes = s.memory_peak_bytes;
  u.pids = s.pids;
  return u;
}

Result<> TaskRuntimeAdapter::remove(const std::string& id) {
  monitor_.unwatch(id);
  return runtime_.remove(id, true);
}

Result<> TaskRuntimeAdapter::release(const std::string& id) {
  auto info = SVC_TRY(runtime_.state(id));
  if (info.status != iso::SandboxStatus::kCreated) return {};
  auto r = runtime_.start(id);
  // A client's attach may have released it meanwhile.
  if (!r && r.error().code() == Code::kFailedPrecondition) return {};
  return r;
}

bool TaskRuntimeAdapter::program_started(const std::string& id) {
  auto r = runtime_.await_exec(id);
  if (!r) {
    spdlog::warn("tasks: {}: cannot tell whether its program started: {}", id,
                 r.error().message());
    return true;  // its exit, whatever it is, comes through the watch
  }
  return !r->has_value();
}

Result<std::vector<sch::SandboxInfo>> TaskRuntimeAdapter::list() {
  std::vector<sch::SandboxInfo> out;
  for (const auto& s : SVC_TRY(runtime_.list())) {
    sch::SandboxInfo i;
    i.id = s.id;
    i.pid = static_cast<int>(s.pid);
    if (s.exit) {
      i.status = sch::SandboxInfo::Status::kExited;
      i.exit = to_exit_info(*s.exit);
    } else if (s.status == iso::SandboxStatus::kRunning && s.shim_alive) {
      i.status = sch::SandboxInfo::Status::kRunning;
    } else if (s.status == iso::SandboxStatus::kCreated && s.shim_alive) {
      // Held for a client's attach when the previous svcd stopped: nobody holds it now.
      (void)runtime_.start(s.id);
      i.status = sch::SandboxInfo::Status::kRunning;
    } else {
      i.status = sch::SandboxInfo::Status::kLost;
    }
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace svc::daemon
