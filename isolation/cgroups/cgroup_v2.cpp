// The cgroup v2 driver: one directory, <unified>/<base>/<relative>, with the controllers svc
// uses (cpu, memory, pids) enabled in every ancestor's cgroup.subtree_control.
#include <fcntl.h>
#include <signal.h>

#include <fmt/ranges.h>

#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/cgroups/cgroup_files.hpp"
#include "isolation/cgroups/cgroup_limits.hpp"
#include "isolation/cgroups/cgroup_v2_controllers.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using namespace cgroups;

namespace {

class CgroupV2 final : public CgroupDriver {
 public:
  CgroupV2(fs::path unified, std::string base, CgroupFsOps ops)
      : unified_(std::move(unified)), base_(std::move(base)), ops_(with_defaults(std::move(ops))) {}

  std::string_view version() const override { return "v2"; }

  Result<> create(std::string_view relative, const CgroupLimits& limits) override {
    SVC_TRY(check(relative));
    SVC_TRY_CTX(validate(limits), "cgroup {}", relative);
    SVC_TRY_CTX(v2::check_v2_limits(limits), "cgroup {}", relative);
    const fs::path leaf = dir(relative);
    if (file_exists(leaf))
      return fail(Code::kAlreadyExists, "cgroup {} already exists", leaf.string());
    // Enable every svc controller the hierarchy offers, not only those the limits need: stats
    // (memory peak for billing, pids) read their files even when nothing is limited.
    auto offered = SVC_TRY_CTX(v2::read_controllers(unified_ / "cgroup.controllers"),
                               "cgroup v2 at {}", unified_.string());
    for (const auto& c : v2::needed_by(limits))
      if (!offered.count(c))
        return fail(Code::kFailedPrecondition,
                    "cgroup {}: the limits need the {} controller, which the cgroup2 hierarchy "
                    "at {} does not offer (offered: {}); on a hybrid host use the v1 driver",
                    relative, c, unified_.string(), fmt::join(offered, " "));
    std::set<std::string> wanted = v2::needed_by(limits);  // cpuset, when asked for
    for (const char* c : v2::kControllers)
      if (offered.count(c)) wanted.insert(c);

    fs::path cur = unified_;
    for (const auto& part : fs::path(base_) / std::string(relative)) {
      SVC_TRY_CTX(v2::enable_controllers(cur, wanted), "cgroup {}", relative);
      cur /= part;
      int err = ops_.make_dir(cur);
      if (cur == leaf) {
        if (err == EEXIST)
          return fail(Code::kAlreadyExists, "cgroup {} already exists", leaf.string());
        if (err != 0) return fail_errno(err, fmt::format("create cgroup {}", cur.string()));
      } else if (err != 0 && err != EEXIST) {
        return fail_errno(err, fmt::format("create cgroup {}", cur.string()));
      }
    }
    auto applied = apply(relative, limits);
    if (!applied) {
      (void)remove_dir_retrying(leaf, ops_, std::chrono::milliseconds(200));
      return tl::unexpected(std::move(applied.error()));
    }
    return {};
  }

  Result<> update(std::string_view relative, const CgroupLimits& limits) override {
    SVC_TRY(check(relative));
    SVC_TRY_CTX(validate(limits), "cgroup {}", relative);
    return apply(relative, limits);
  }

  Result<> set_cpu_quota(std::string_view relative, std::int64_t cpu_millis,
                         std::uint64_t period_us) override {
    SVC_TRY(check(relative));
    CgroupLimits limits;  // cpu_shares 0: the weight stays as it is
    limits.cpu_millis = cpu_millis;
    limits.cpu_period_us = period_us;
    SVC_TRY_CTX(validate(limits), "cgroup {}", relative);
    return v2::apply_cpu(limits, dir(relative));
  }

  Result<> add_process(std::string_view relative, pid_t pid) override {
    SVC_TRY(check(relative));
    if (pid <= 0)
      return fail(Code::kInvalidArgument, "add pid {} to cgroup {}: not a pid", pid, relative);
    return write_value(dir(relative) / "cgroup.procs", std::to_string(pid));
  }

  Result<std::vector<UniqueFd>> open_procs_files(std::string_view relative) override {
    SVC_TRY(check(relative));
    fs::path p = dir(relative) / "cgroup.procs";
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("open {}", p.string()));
    std::vector<UniqueFd> fds;
    fds.push_back(std::move(fd));
    return fds;
  }

  Result<std::vector<UniqueFd>> open_self_join_files(std::string_view relative) override {
    return open_procs_files(relative);
  }

  Result<UniqueFd> dir_fd(std::string_view relative) override {
    SVC_TRY(check(relative));
    fs::path p = dir(relative);
    UniqueFd fd(::open(p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("open cgroup directory {}", p.string()));
    return fd;
  }

  Result<CgroupStats> stats(std::string_view relative) override {
    SVC_TRY(check(relative));
    const fs::path d = dir(relative);
    CgroupStats s;
    s.cpu_seconds = SVC_TRY_CTX(v2::read_cpu_seconds(d), "stats");
    auto mem = SVC_TRY_CTX(v2::read_memory(d), "stats");
    s.memory_bytes = mem.current;
    s.memory_peak_bytes = mem.peak;
    s.oom_kills = mem.oom_kills;
    s.pids = SVC_TRY_CTX(v2::read_pids_current(d), "stats");
    return s;
  }

  Result<std::vector<pid_t>> pids(std::string_view relative) override {
    SVC_TRY(check(relative));
    return read_procs(dir(relative) / "cgroup.procs");
  }

  Result<> kill_all(std::string_view relative, int sig) override {
    SVC_TRY(check(relative));
    if (sig <= 0 || sig >= NSIG) return fail(Code::kInvalidArgument, "signal {} is not valid", sig);
    const fs::path d = dir(relative);
    auto r = [&]() -> Result<> {
      if (sig == SIGKILL && SVC_TRY(v2::kill_via_cgroup_kill(d))) return {};
      if (file_exists(d / "cgroup.freeze"))
        return freeze_and_signal([&] { return v2::freeze(d); }, [&] { return v2::thaw(d); },
                                 d / "cgroup.procs", sig);
      return signal_until_empty(d / "cgroup.procs", sig);
    }();
    if (!r)
      return tl::unexpected(std::move(r.error()).context(fmt::format("kill cgroup {}", relative)));
    return {};
  }

  Result<std::vector<std::string>> children(std::string_view relative) override {
    SVC_TRY(check(relative));
    return list_child_dirs(dir(relative));
  }

  Result<> remove(std::string_view relative) override {
    SVC_TRY(check(relative));
    return remove_dir_retrying(dir(relative), ops_);
  }

  Result<UniqueFd> open_oom_notifier(std::string_view relative) override {
    SVC_TRY(check(relative));
    const fs::path d = dir(relative);
    if (!file_exists(d / "memory.events"))
      return fail(Code::kFailedPrecondition,
                  "cgroup {}: no memory.events (the memory controller is not enabled for it)",
                  d.string());
    return v2::open_memory_events_watch(d);
  }

 private:
  Result<> check(std::string_view relative) const {
    if (!base_.empty()) SVC_TRY(check_relative(base_, "cgroup base"));
    return check_relative(relative);
  }

  fs::path dir(std::string_view relative) const { return unified_ / base_ / std::string(relative); }

  // Applies each limit whose controller is enabled for the cgroup (its cgroup.controllers); a
  // limit whose controller is not is an error, never silently dropped.
  Result<> apply(std::string_view relative, const CgroupLimits& limits) {
    const fs::path d = dir(relative);
    auto enabled =
        SVC_TRY_CTX(v2::read_controllers(d / "cgroup.controllers"), "cgroup {}", relative);
    for (const auto& c : v2::needed_by(limits))
      if (!enabled.count(c))
        return fail(Code::kFailedPrecondition,
                    "cgroup {}: the {} controller is not enabled for it (its parent's "
                    "cgroup.subtree_control lacks +{})",
                    d.string(), c, c);
    if (enabled.count("cpu"))
      SVC_TRY_CTX(v2::apply_cpu(limits, d), "cgroup {}: cpu limit", relative);
    if (enabled.count("memory"))
      SVC_TRY_CTX(v2::apply_memory(limits, d), "cgroup {}: memory limit", relative);
    if (enabled.count("pids"))
      SVC_TRY_CTX(v2::apply_pids(limits, d), "cgroup {}: pids limit", relative);
    if (enabled.count("cpuset"))
      SVC_TRY_CTX(v2::apply_cpuset(limits, d), "cgroup {}: cpuset", relative);
    return {};
  }

  fs::path unified_;
  std::string base_;
  CgroupFsOps ops_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v2(fs::path unified, std::string base, CgroupFsOps ops) {
  return std::make_unique<CgroupV2>(std::move(unified), std::move(base), std::move(ops));
}

}  // namespace svc::isolation
