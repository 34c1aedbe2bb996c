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
#include "isolation/oci_spec.hpp"

namespace svc::isolation::oci {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// conmon runs the runtime as its own child.
bool parent_is_conmon() {
  auto comm = read_file("/proc/" + std::to_string(::getppid()) + "/comm");
  return comm && (*comm == "conmon\n" || *comm == "conmon");
}
}  // namespace

Cli::Cli(GlobalOptions options) : options_(std::move(options)) {}
Cli::~Cli() = default;

Result<> Cli::init() {
  auto t0 = std::chrono::steady_clock::now();
  SVC_TRY(make_dirs(options_.root, 0711));
  cgroups_ = SVC_TRY_CTX(make_cgroup_driver(probe_cgroups(), options_.cgroup_base), "cgroups");
  compiler_ = std::make_unique<seccomp::Compiler>(options_.root / "seccomp-cache");
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
  ro.cgroup_parent = "";
  ro.shim_cgroup = options_.shim_cgroup;
  runtime_ = std::make_unique<Runtime>(ro, *cgroups_, *compiler_, *pool_);
  spdlog::debug(
      "init: {:.2f} ms",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return {};
}

int Cli::report(const Error& err) const {
  std::fprintf(stderr, "svc-runtime: %s\n", err.message().c_str());
  if (!options_.log_file.empty()) {
    if (FILE* f = std::fopen(options_.log_file.c_str(), "a")) {
      if (options_.log_format == "json")
        std::fprintf(f, "%s\n", json({{"level", "error"}, {"msg", err.message()}}).dump().c_str());
      else
        std::fprintf(f, "error: %s\n", err.message().c_str());
      std::fclose(f);
    }
  }
  return 1;
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
  CreateOptions o;
  o.stdio = {0, 1, 2};
  o.console_socket = console_socket;
  o.bundle = abs;
  o.start = start;
  SandboxInfo info = SVC_TRY(runtime_->create(id, config.spec, o));
  if (!pid_file.empty()) {
    // conmon waits for the pid it is given with waitpid(): it must be its descendant, and the
    // task is the shim's child. The shim is conmon's (reparented to it, a subreaper) and exits
    // with the task's status, so conmon gets the shim's pid (the kata-shim precedent); every
    // other caller gets the task's, as runc gives.
    pid_t pid = options_.pid_file_shim || parent_is_conmon() ? info.shim_pid : info.pid;
    auto written = write_file_atomic(pid_file, std::to_string(pid));
    if (!written) {
      (void)runtime_->remove(id, true);
      return tl::unexpected(std::move(written).error().context("write the pid file"));
    }
  }
  return info;
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
  SVC_TRY(runtime_->start(id));
  return 0;
}

Result<int> Cli::state(const std::string& id) {
  auto info = SVC_TRY(runtime_->state(id));
  json j = {{"ociVersion", kOciVersion},
            {"id", info.id},
            {"status", std::string(status_name(info.status))},
            {"pid", info.status == SandboxStatus::kStopped ? 0 : info.pid},
            {"bundle", info.bundle.string()},
            {"rootfs", (info.bundle / "rootfs").string()},
            {"created", format_rfc3339_nano(info.created_at)},
            {"annotations", info.annotations}};
  std::printf("%s\n", j.dump(2).c_str());
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
  auto r = runtime_->remove(id, force);
  if (!r && force && r.error().code() == Code::kNotFound) return 0;
  SVC_TRY(std::move(r));
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
  if (!keep) (void)runtime_->remove(id, true);
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
