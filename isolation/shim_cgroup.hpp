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
  bool cpuset = false;      // a v1 cpuset hierarchy: new cgroups need cpus and mems copied in
  std::string controllers;  // v1: "cpu,cpuacct" or "name=systemd" (as /proc/<pid>/cgroup says)
};

// The cgroup and cgroup2 mounts listed in <proc>/self/mountinfo.
std::vector<CgroupMount> cgroup_mounts(const std::filesystem::path& proc = "/proc");

// For each mount, the calling process's cgroup in that hierarchy (from <proc>/self/cgroup),
// "" when it cannot be told.
std::vector<std::string> own_cgroups(const std::vector<CgroupMount>& mounts,
                                     const std::filesystem::path& proc = "/proc");

// Owns one open fd per hierarchy the shim must be moved in, for the shim-to-be (a
// single-threaded process) to write "0" to: v1 "tasks", v2 "cgroup.procs"; closed by the
// destructor.
class ShimCgroups {
 public:
  // Where the shim-to-be goes, per hierarchy, after it has cloned the sandbox's first process:
  // - where the daemon has a cgroup of its own (own[i] not "/"): <mount>/<name>, created when
  //   missing, so the shim leaves the daemon's cgroup (a restart of the daemon's service kills
  //   that cgroup);
  // - else, in the hierarchies of the sandboxes' cgroups (a mount holding one of
  //   sandbox_cgroup_dirs): the hierarchy's root, which it came from, so it does not stay in the
  //   sandbox's cgroup (its pids limit, its kill);
  // - else nowhere: it has nothing to leave, and a hierarchy mounted for a moment by someone
  //   else (crun's benchmark mounts hugetlb) must not be kept alive by a directory or an open
  //   file of ours.
  // A hierarchy that refuses is skipped (best effort); the error is kept in skipped().
  static ShimCgroups open(const std::vector<CgroupMount>& mounts,
                          const std::vector<std::string>& own, const std::string& name,
                          const std::vector<std::filesystem::path>& sandbox_cgroup_dirs);
  std::vector<int> fds() const;
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<UniqueFd> procs_;
  std::vector<std::string> skipped_;
};

// rmdir of <mount>/<name> in every hierarchy (for tests and uninstall); missing is fine.
Result<> remove_shim_cgroups(const std::vector<CgroupMount>& mounts, const std::string& name);

}  // namespace svc::isolation
