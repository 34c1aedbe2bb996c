// The cgroup v1 driver: one directory per managed hierarchy (cpu, cpuacct, memory, pids, and
// freezer when mounted), named <mount>/<base>/<relative> in each. Co-mounted controllers share
// a directory, so work is done once per distinct hierarchy.
#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <set>

#include <fmt/ranges.h>

#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/cgroups/cgroup_files.hpp"
#include "isolation/cgroups/cgroup_limits.hpp"
#include "isolation/cgroups/cgroup_v1_controllers.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using namespace cgroups;

namespace {

constexpr const char* kRequired[] = {"cpu", "cpuacct", "memory", "pids"};
constexpr const char* kOptional[] = {"freezer"};
// Joined only by sandboxes whose limits use them (OCI bundles with cpus/mems or device rules):
// a cpuset cgroup needs its cpus and mems copied at every level, and svcd needs neither.
constexpr const char* kOnDemand[] = {"cpuset", "devices"};

bool wants(const CgroupLimits& l, std::string_view controller) {
  if (controller == "cpuset") return !l.cpuset_cpus.empty() || !l.cpuset_mems.empty();
  if (controller == "devices") return !l.devices.empty();
  return false;
}

class CgroupV1 final : public CgroupDriver {
 public:
  CgroupV1(std::map<std::string, fs::path> mounts, std::string base, CgroupFsOps ops)
      : base_(std::move(base)), ops_(with_defaults(std::move(ops))) {
    for (const char* c : kRequired)
      if (auto it = mounts.find(c); it != mounts.end()) mounts_[c] = it->second;
    for (const char* c : kOptional)
      if (auto it = mounts.find(c); it != mounts.end()) mounts_[c] = it->second;
    std::set<fs::path> seen;
    for (const auto& [name, path] : mounts_)
      if (seen.insert(path).second) hierarchies_.push_back(path);
    for (const char* c : kOnDemand)
      if (auto it = mounts.find(c); it != mounts.end() && !seen.count(it->second))
        on_demand_[c] = it->second;
  }

  std::string_view version() const override { return "v1"; }

  Result<> create(std::string_view relative, const CgroupLimits& limits) override {
    SVC_TRY(check(relative));
    SVC_TRY_CTX(validate(limits), "cgroup {}", relative);
    std::vector<std::string> missing;
    for (const char* c : kRequired)
      if (!mounts_.count(c)) missing.emplace_back(c);
    if (!missing.empty())
      return fail(Code::kFailedPrecondition,
                  "cgroup v1: no hierarchy mounted for {} (svc needs cpu, cpuacct, memory and "
                  "pids; check /proc/self/mountinfo)",
                  fmt::join(missing, ", "));
    std::vector<fs::path> dirs = hierarchies_;
    for (const auto& [name, path] : on_demand_) {
      if (!wants(limits, name)) continue;
      dirs.push_back(path);
    }
    for (const char* c : kOnDemand)
      if (wants(limits, c) && !on_demand_.count(c))
        return fail(Code::kFailedPrecondition,
                    "cgroup v1: the limits need the {} controller, which is not mounted (check "
                    "/proc/self/mountinfo)",
                    c);
    for (const auto& h : dirs)
      if (file_exists(h / base_ / relative))
        return fail(Code::kAlreadyExists, "cgroup {} already exists in {}", relative, h.string());
    // Parents first in every hierarchy, then the leaves; a failure removes the leaves made.
    std::vector<fs::path> made;
    auto rollback = [&] {
      for (const auto& d : made) (void)remove_dir_retrying(d, ops_, std::chrono::milliseconds(200));
    };
    for (const auto& h : dirs) {
      fs::path leaf = h / base_ / relative;
      if (leaf.parent_path() != h) {
        auto r = make_dirs_below(h, leaf.parent_path(), ops_);
        if (r && h == on_demand_path("cpuset")) r = fill_cpusets(h, leaf.parent_path());
        if (!r) {
          rollback();
          return tl::unexpected(std::move(r.error()));
        }
      }
      int err = ops_.make_dir(leaf);
      if (err != 0) {
        rollback();
        if (err == EEXIST)
          return fail(Code::kAlreadyExists, "cgroup {} already exists in {}", relative, h.string());
        return fail_errno(err, fmt::format("create cgroup {}", leaf.string()));
      }
      made.push_back(leaf);
    }
    auto applied = apply(relative, limits);
    if (!applied) {
      rollback();
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
    return v1::apply_cpu(limits, dir("cpu", relative));
  }

  Result<> add_process(std::string_view relative, pid_t pid) override {
    SVC_TRY(check(relative));
    if (pid <= 0)
      return fail(Code::kInvalidArgument, "add pid {} to cgroup {}: not a pid", pid, relative);
    for (const auto& h : present(relative))
      SVC_TRY(write_value(h / base_ / relative / "cgroup.procs", std::to_string(pid)));
    return {};
  }

  Result<std::vector<UniqueFd>> open_procs_files(std::string_view relative) override {
    return open_files(relative, "cgroup.procs");
  }

  Result<std::vector<UniqueFd>> open_self_join_files(std::string_view relative) override {
    return open_files(relative, "tasks");
  }

  Result<std::vector<UniqueFd>> open_files(std::string_view relative, const char* name) {
    SVC_TRY(check(relative));
    std::vector<UniqueFd> fds;
    for (const auto& h : present(relative)) {
      fs::path p = h / base_ / relative / name;
      UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd) return fail_errno(fmt::format("open {}", p.string()));
      fds.push_back(std::move(fd));
    }
    return fds;
  }

  Result<UniqueFd> dir_fd(std::string_view relative) override {
    return fail(Code::kUnimplemented,
                "cgroup {}: v1 has one directory per hierarchy, not one fd for "
                "CLONE_INTO_CGROUP; use open_procs_files",
                relative);
  }

  Result<CgroupStats> stats(std::string_view relative) override {
    SVC_TRY(check(relative));
    CgroupStats s;
    s.cpu_seconds = SVC_TRY_CTX(v1::read_cpu_seconds(dir("cpuacct", relative)), "stats");
    auto mem = SVC_TRY_CTX(v1::read_memory(dir("memory", relative)), "stats");
    s.memory_bytes = mem.current;
    s.memory_peak_bytes = mem.peak;
    s.oom_kills = mem.oom_kills;
    s.pids = SVC_TRY_CTX(v1::read_pids_current(dir("pids", relative)), "stats");
    return s;
  }

  Result<std::vector<pid_t>> pids(std::string_view relative) override {
    SVC_TRY(check(relative));
    return read_procs(dir(procs_controller(), relative) / "cgroup.procs");
  }

  Result<> kill_all(std::string_view relative, int sig) override {
    SVC_TRY(check(relative));
    if (sig <= 0 || sig >= NSIG) return fail(Code::kInvalidArgument, "signal {} is not valid", sig);
    Result<> r;
    if (mounts_.count("freezer")) {
      const fs::path fz = dir("freezer", relative);
      r = freeze_and_signal([&] { return v1::freeze(fz); }, [&] { return v1::thaw(fz); },
                            fz / "cgroup.procs", sig);
    } else {
      r = signal_until_empty(dir("pids", relative) / "cgroup.procs", sig);
    }
    if (!r)
      return tl::unexpected(std::move(r.error()).context(fmt::format("kill cgroup {}", relative)));
    return {};
  }

  Result<> remove(std::string_view relative) override {
    SVC_TRY(check(relative));
    for (const auto& h : hierarchies_) SVC_TRY(remove_dir_retrying(h / base_ / relative, ops_));
    for (const auto& [name, h] : on_demand_)
      SVC_TRY(remove_dir_retrying(h / base_ / relative, ops_));
    return {};
  }

  Result<UniqueFd> open_oom_notifier(std::string_view relative) override {
    SVC_TRY(check(relative));
    return v1::open_oom_eventfd(dir("memory", relative));
  }

  Result<std::vector<std::string>> children(std::string_view relative) override {
    SVC_TRY(check(relative));
    return list_child_dirs(dir("pids", relative));
  }

 private:
  Result<> check(std::string_view relative) const {
    if (!base_.empty()) SVC_TRY(check_relative(base_, "cgroup base"));
    return check_relative(relative);
  }

  fs::path dir(const std::string& controller, std::string_view relative) const {
    auto it = mounts_.find(controller);
    // Unknown controllers only come from a missing mount; the path then fails to open with a
    // message naming it.
    fs::path mount = it == mounts_.end() ? fs::path("/nonexistent-" + controller) : it->second;
    return mount / base_ / relative;
  }

  std::string procs_controller() const { return mounts_.count("freezer") ? "freezer" : "pids"; }

  fs::path on_demand_path(const std::string& controller) const {
    auto it = on_demand_.find(controller);
    return it == on_demand_.end() ? fs::path() : it->second;
  }

  // The managed hierarchies, and the on-demand ones the cgroup was made in.
  std::vector<fs::path> present(std::string_view relative) const {
    std::vector<fs::path> out = hierarchies_;
    for (const auto& [name, h] : on_demand_)
      if (file_exists(h / base_ / relative)) out.push_back(h);
    return out;
  }

  // Every level from the hierarchy down to `to` takes its parent's cpus and mems.
  Result<> fill_cpusets(const fs::path& h, const fs::path& to) {
    fs::path cur = h;
    for (const auto& part : to.lexically_relative(h)) {
      cur /= part;
      SVC_TRY(v1::fill_cpuset_from_parent(cur));
    }
    return {};
  }

  Result<> apply(std::string_view relative, const CgroupLimits& limits) {
    SVC_TRY_CTX(v1::apply_cpu(limits, dir("cpu", relative)), "cgroup {}: cpu limit", relative);
    SVC_TRY_CTX(v1::apply_memory(limits, dir("memory", relative)), "cgroup {}: memory limit",
                relative);
    SVC_TRY_CTX(v1::apply_pids(limits, dir("pids", relative)), "cgroup {}: pids limit", relative);
    if (wants(limits, "cpuset"))
      SVC_TRY_CTX(v1::apply_cpuset(limits, on_demand_path("cpuset") / base_ / relative),
                  "cgroup {}: cpuset", relative);
    if (wants(limits, "devices"))
      SVC_TRY_CTX(v1::apply_devices(limits, on_demand_path("devices") / base_ / relative),
                  "cgroup {}: device rules", relative);
    return {};
  }

  std::map<std::string, fs::path> mounts_;     // managed controller -> mount point
  std::map<std::string, fs::path> on_demand_;  // cpuset, devices (own hierarchies) -> mount
  std::vector<fs::path> hierarchies_;          // distinct mount points, in a stable order
  std::string base_;
  CgroupFsOps ops_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v1(std::map<std::string, fs::path> mounts,
                                             std::string base, CgroupFsOps ops) {
  return std::make_unique<CgroupV1>(std::move(mounts), std::move(base), std::move(ops));
}

}  // namespace svc::isolation
