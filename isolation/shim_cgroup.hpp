#pragma once
// The cgroup the shims live in: a directory (e.g. "svc-shims") at the top of every cgroup
// hierarchy mounted on the host (v1 controllers, named hierarchies such as name=systemd, and
// the cgroup2 mount), so that no shim stays in the daemon's cgroup — stopping or restarting
// the daemon's service (systemd kills its whole cgroup) must not take the shims with it. No
// limits are set: it is a parking place, not a sandbox.
#include <filesystem>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::isolation {

struct CgroupMount {
  std::filesystem::path mount_point;
  bool v2 = false;
  bool cpuset = false;  // a v1 cpuset hierarchy: new cgroups need cpus and mems copied in
};

// The cgroup and cgroup2 mounts listed in <proc>/self/mountinfo.
std::vector<CgroupMount> cgroup_mounts(const std::filesystem::path& proc = "/proc");

// Owns one open cgroup.procs fd per hierarchy it could join; closed by the destructor.
class ShimCgroups {
 public:
  // Creates <mount>/<name> where missing. A hierarchy that refuses is skipped (best effort:
  // "every hierarchy it can"); the error is kept in skipped() for diagnostics.
  static ShimCgroups open(const std::vector<CgroupMount>& mounts, const std::string& name);
  std::vector<int> fds() const;
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<UniqueFd> procs_;
  std::vector<std::string> skipped_;
};

// rmdir of <mount>/<name> in every hierarchy (for tests and uninstall); missing is fine.
Result<> remove_shim_cgroups(const std::vector<CgroupMount>& mounts, const std::string& name);

}  // namespace svc::isolation
