#pragma once
// svc-runtime's cgroups: linux.cgroupsPath read as runc reads it, over two cgroup drivers.
//   "/a/b"  (absolute)  <hierarchy>/a/b                      -> the name "root/a/b"
//   "a/b"   (relative)  <hierarchy>/<svc-runtime's own>/a/b  -> the name "own/a/b"
//   ""      (none)      as "<id>", relative                  -> "own/<id>"
// so that a container is in a cgroup named for it, never in one tree every container shares.
// The Runtime stores the name in the container's state and hands it back to this driver for
// stats, kill and remove: the first component routes the call.
//
// Ownership: owns both drivers; they own nothing (cgroup_driver.hpp).
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::isolation::oci {

// The driver name for a container's cgroupsPath; INVALID_ARGUMENT for a path the drivers cannot
// take ("..", characters outside [A-Za-z0-9._-/]). base: a prefix for containers without a
// cgroupsPath ("" for none).
Result<std::string> cgroup_name(std::string_view cgroups_path, std::string_view id,
                                std::string_view base);

// A CgroupDriver over names from cgroup_name().
std::unique_ptr<CgroupDriver> make_oci_cgroups(std::unique_ptr<CgroupDriver> absolute,
                                               std::unique_ptr<CgroupDriver> relative);

}  // namespace svc::isolation::oci
