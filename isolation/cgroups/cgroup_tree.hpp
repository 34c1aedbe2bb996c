#pragma once
// A cgroup tree as one svcd owns it: <mount>/<name> in every cgroup hierarchy of the host
// (the sandboxes' tree, "svc", and the shims' parking place, "svc-shims").
//
// Two daemons on one host must not share a tree: each would take the other's sandboxes for
// orphans. claim_cgroup_tree() makes that a refusal at start, not a fight: it holds an flock on
// the tree's directory for as long as the returned fd lives (the kernel drops it when the
// process dies, so a killed svcd never leaves a stale claim). remove_cgroup_tree() is what a
// stopping svcd does with the trees it made: every directory goes that the kernel lets go.
#include <filesystem>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/shim_cgroup.hpp"

namespace svc::isolation {

// The directory whose flock stands for the whole tree: <mount>/<name> in the v1 hierarchy of
// pids (every svc cgroup has one there) or else the cgroup2 mount; empty when neither exists.
std::filesystem::path cgroup_tree_anchor(const std::vector<CgroupMount>& mounts,
                                         const std::string& name);

// Creates the anchor when missing and locks it (LOCK_EX|LOCK_NB). ALREADY_EXISTS, naming the
// holder's pid when the kernel tells it, when another process has claimed the tree.
Result<UniqueFd> claim_cgroup_tree(const std::vector<CgroupMount>& mounts, const std::string& name,
                                   const std::filesystem::path& proc = "/proc");

// rmdir of <mount>/<name> and everything below it, in every mount, deepest first. A cgroup
// with processes in it (EBUSY) stays, and so do its parents; a missing one is fine. Returns the
// directories left.
std::vector<std::filesystem::path> remove_cgroup_tree(const std::vector<CgroupMount>& mounts,
                                                      const std::string& name);

}  // namespace svc::isolation
