#include "isolation/oci_cli/commands.hpp"
#include "isolation/shim_locator.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/version.hpp"
#include "isolation/capabilities.hpp"
#include "isolation/host_probe.hpp"
#include "isolation/oci_cli/hooks.hpp"
#include "isolation/oci_cli/oci_cgroups.hpp"
#include "isolation/oci_spec.hpp"
#include "isolation/rfc3339.hpp"
#include "isolation/shim_cgroup.hpp"

namespace svc::isolation::oci {

namespace fs = std::filesystem;
using nlohmann::json;

Cli::Cli(GlobalOptions options) : options_(std::move(options)) {}
Cli::~Cli() = default;

Result<> Cli::init() {
  auto t0 = std::chrono::steady_clock::now();
  SVC_TRY(make_dirs(options_.root, 0711));
  // linux.cgroupsPath as runc reads it (oci_cgroups.hpp): absolute paths below each hierarchy's
  // root, relative ones (and the default, the container's id) below svc-runtime's own cgroup.
  CgroupLayout layout = probe_cgroups();
  auto mounts = cgroup_mounts();
  auto own = own_cgroups(mounts);
  std::map<fs::path, std::string> own_by_mount;
  for (std::size_t i = 0; i < mounts.size(); ++i) own_by_mount[mounts[i].mount_point] = own[i];
  auto below_own = [own_by_mount](const fs::path& mount) {
    auto it = own_by_mount.find(mount);
    if (it == own_by_mount.end() || it->second.size() <= 1) return mount;
    return mount / it->second.substr(1);
  };
  auto absolute = SVC_TRY_CTX(make_cgroup_driver_below(layout, "", {}), "cgroups");
  auto relative = SVC_TRY_CTX(make_cgroup_driver_below(layout, "", below_own), "cgroups");
  cgroups_ = make_oci_cgroups(std::move(absolute), std::move(relative));
  // A dot-name: never listed as a container (ids do not start with '.').
  compiler_ = std::make_unique<seccomp::Compiler>(options_.root / ".seccomp-cache");
  UidPool::Options po;
  po.file = options_.root / "id-ranges";
  po.base = options_.id_base;
  // As many ranges as fit below 2^32-1, at most 16384.
  po.count = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(16384, (0xFFFFFFFEull - po.base) / po.block));
  pool_ = std::make_unique<UidPool>(po);
  RuntimeOptions ro;
  ro.state_dir = options_.root;
  ro.shim_path = isolation::find_shim();
  ro.cgroup_parent = options_.cgroup_base.empty() ? "own" : "own/" + options_.cgroup_base;
  ro.shim_cgroup = options_.shim_cgroup;
  runtime_ = std::make_unique<Runtime>(ro, *cgroups_, *compiler_, *pool_);
  spdlog::debug(
      "init: {:.2f} ms",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return {};
}

void Cli::log_line(const char* level, const std::string& message) const {
  std::fprintf(stderr, "svc-runtime: %s%s\n",
               std::string_view(level) == "error" ? "" : "warning: ", message.c_str());
  if (options_.log_file.empty()) return;
  if (FILE* f = std::fopen(options_.log_file.c_str(), "a")) {
    // containerd's runc shim reads these lines back for its error messages.
    if (options_.log_format == "json")
      std::fprintf(f, "%s\n",
                   json({{"level", level},
                         {"msg", message},
                         {"time", format_rfc3339_nano(std::chrono::system_clock::now())}})
                       .dump()
                       .c_str());
    else
      std::fprintf(f, "%s: %s\n", level, message.c_str());
    std::fclose(f);
  }
}

int Cli::report(const Error& err) const {
  log_line("error", err.message());
  return 1;
}

std::string Cli::state_json(const SandboxInfo& info, std::string_view status, bool with_pid) {
  json j = {{"ociVersion", kOciVersion},
            {"id", info.id},
            {"status", std::string(status)},
            {"pid", with_pid ? info.pid : 0},
            {"bundle", info.bundle.string()},
            {"rootfs", (info.bundle / "rootfs").string()},
            {"created", format_rfc3339_nano(info.created_at)},
            {"annotations", info.annotations}};
  return j.dump(2);
}

Result<SandboxInfo> Cli::create_sandbox(const std::string& id, const fs::path& bundle,
                                        const std::string& pid_file,
                                        const std::string& console_socket, bool start) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(bundle, ec), ec);
  OciConfig config = SVC_TRY(load_oci_bundle(abs));
  if (config.terminal && console_socket.empty())
    return fail(Code::kInvalidArgument,
                "process.terminal is true: give --console-socket (the unix socket the "
                "terminal's master is sent to), or set process.terminal to false");
  config.spec.stdio = StdioMode::kInherit;  // runc's pass-through: the task gets our 0, 1, 2
  if (!config.cgroups_path.empty())
    config.spec.cgroup = SVC_TRY(cgroup_name(config.cgroups_path, id, options_.cgroup_base));
  CreateOptions o;
  o.stdio = {0, 1, 2};
  o.console_socket = console_socket;
  o.bundle = abs;
  // Hooks run between create and start: no autostart then.
  o.start = start && config.hooks.prestart.empty() && config.hooks.create_runtime.empty();
  // `create`: the process is the caller's subreaper's to reap, as runc's is (conmon and
  // containerd's shim read its exit status with waitpid). `run` waits for it itself, through
  // the shim, which must then be its parent.
  o.reparent = !start;
  SandboxInfo info = SVC_TRY(runtime_->create(id, config.spec, o));
  auto undo = [&](Error e) {
    (void)runtime_->remove(id, true);
    return tl::unexpected(std::move(e));
  };
  if (auto saved = save_hooks(runtime_->sandbox_dir(id), config.hooks); !saved)
    return undo(std::move(saved).error().context("keep the hooks"));
  if (!pid_file.empty()) {
    // The task's pid, as runc gives: create hands the task to the caller's subreaper (conmon,
    // containerd's shim), which waits for it itself. --pid-file-shim gives the shim's instead.
    pid_t pid = options_.pid_file_shim ? info.shim_pid : info.pid;
    auto written = write_file_atomic(pid_file, std::to_string(pid));
    if (!written) return undo(std::move(written).error().context("write the pid file"));
  }
  std::vector<OciHook> before = config.hooks.prestart;
  before.insert(before.end(), config.hooks.create_runtime.begin(),
                config.hooks.create_runtime.end());
  if (!before.empty()) {
    if (auto ran = run_hooks(before, state_json(info, "created", true), "prestart"); !ran) {
      // runtime.md: stop the container and go on with delete (its poststop hooks).
      (void)runtime_->remove(id, true);
      run_warning_hooks(config.hooks.poststop, state_json(info, "stopped", true), "poststop");
      return tl::unexpected(std::move(ran).error());
    }
    if (start) SVC_TRY_CTX(runtime_->start(id), "start container {}", id);
  }
  if (start)
    run_warning_hooks(config.hooks.poststart, state_json(info, "running", true), "poststart");
  return info;
}

void Cli::run_warning_hooks(const std::vector<OciHook>& hooks, const std::string& state,
                            const char* which) const {
  // runtime.md: a poststart or poststop hook that fails is a warning; the rest still run.
  for (std::size_t i = 0; i < hooks.size(); ++i)
    if (auto r = run_hooks({hooks[i]}, state, which); !r) log_line("warning", r.error().message());
}

Result<int> Cli::create(const std::string& id, const fs::path& bundle, const std::string& pid_file,
                        const std::string& console_socket) {
  SVC_TRY(create_sandbox(id, bundle, pid_file, console_socket, false));
  return 0;
}

Result<int> Cli::start(const std::string& id) {
  auto info = SVC_TRY(runtime_->state(id));
  if (info.status != SandboxStatus::kCreated)
    return fail(Code::kFailedPrecondition, "container {} is {}, not created", id,
                status_name(info.status));
  auto hooks = SVC_TRY_CTX(load_hooks(info.dir), "container {}", id);
  SVC_TRY(runtime_->start(id));
  run_warning_hooks(hooks.poststart, state_json(info, "running", true), "poststart");
  return 0;
}

Result<int> Cli::state(const std::string& id) {
  auto info = SVC_TRY(runtime_->state(id));
  std::printf(
      "%s\n",
      state_json(info, status_name(info.status), info.status != SandboxStatus::kStopped).c_str());
  return 0;
}

Result<int> Cli::kill(const std::string& id, const std::string& signal, bool all) {
  int sig = signal_from_name(signal);
  if (sig == 0) return fail(Code::kInvalidArgument, "unknown signal \"{}\"", signal);
  auto info = SVC_TRY(runtime_->state(id));
  if (info.status == SandboxStatus::kStopped)
    return fail(Code::kFailedPrecondition, "container {} is not running", id);
  SVC_TRY(runtime_->kill(id, sig, all));
  return 0;
}

Result<int> Cli::remove(const std::string& id, bool force) {
  auto info = runtime_->state(id);
  OciHooks hooks;
  if (info) hooks = load_hooks(info->dir).value_or(OciHooks{});
  auto r = runtime_->remove(id, force);
  if (!r && force && r.error().code() == Code::kNotFound) return 0;
  SVC_TRY(std::move(r));
  if (info) run_warning_hooks(hooks.poststop, state_json(*info, "stopped", true), "poststop");
  return 0;
}

Result<int> Cli::run(const std::string& id, const fs::path& bundle, const std::string& pid_file,
                     const std::string& console_socket, bool detach, bool keep) {
  // Signals for the task go to the task: block them here and pass them on from a thread.
  sigset_t forward;
  sigemptyset(&forward);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH})
    sigaddset(&forward, s);
  if (!detach) pthread_sigmask(SIG_BLOCK, &forward, nullptr);
  SVC_TRY(create_sandbox(id, bundle, pid_file, console_socket, true));
  if (detach) return 0;
  std::thread([this, id, forward] {
    for (;;) {
      int sig = 0;
      if (sigwait(&forward, &sig) != 0) return;
      (void)runtime_->kill(id, sig);
    }
  }).detach();
  auto t0 = std::chrono::steady_clock::now();
  auto exit = runtime_->wait(id);
  auto t1 = std::chrono::steady_clock::now();
  if (!keep) (void)remove(id, true);
  spdlog::debug(
      "run {}: waited {:.2f} ms, removed in {:.2f} ms", id,
      std::chrono::duration<double, std::milli>(t1 - t0).count(),
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count());
  SVC_TRY(std::move(exit));
  if (!exit->error.empty()) std::fprintf(stderr, "svc-runtime: %s\n", exit->error.c_str());
  return exit->exit_code;
}

Result<int> Cli::list(bool quiet) {
  auto all = SVC_TRY(runtime_->list());
  if (!quiet) std::printf("%-24s %-8s %-8s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
  for (const auto& s : all) {
    if (quiet) {
      std::printf("%s\n", s.id.c_str());
      continue;
    }
    std::printf("%-24s %-8d %-8s %-32s %s\n", s.id.c_str(),
                s.status == SandboxStatus::kStopped ? 0 : s.pid,
                std::string(status_name(s.status)).c_str(), s.bundle.c_str(),
                format_rfc3339_nano(s.created_at).c_str());
  }
  return 0;
}

Result<int> Cli::spec(const fs::path& bundle) {
  fs::path file = bundle / "config.json";
  std::error_code ec;
  if (fs::exists(file, ec))
    return fail(Code::kAlreadyExists, "{} exists; remove it first", file.string());
  SVC_TRY(write_file_atomic(file, default_oci_config()));
  return 0;
}

int Cli::features() {
  std::vector<std::string> caps;
  for (int i = 0; i <= kLastKnownCap; ++i) caps.push_back(capability_name(i));
  json j = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", kOciVersion},
      {"hooks", json::array()},
      {"mountOptions",
       {"bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "idmap",
        "ridmap", "private", "rprivate"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs",
           {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}}}},
      {"annotations", {{"io.github.svc.runtime.version", std::string(version())}}},
  };
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace svc::isolation::oci
