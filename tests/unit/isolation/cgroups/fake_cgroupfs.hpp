#pragma once
// A fake cgroupfs in a temp dir: directories made through ops() get the control files the
// kernel would create (with the kernel's defaults), and remove_dir behaves like rmdir on
// cgroupfs (control files do not count; child cgroups or listed processes make it EBUSY).
// Owns its TempDir; everything is deleted with the object.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "../result_maker.hpp"
#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::test {

class FakeCgroupFs {
 public:
  struct Options {
    bool memsw = true;        // v1: the kernel has swap accounting
    bool v2_swap = true;      // v2: memory.swap.max exists
    bool v2_peak = true;      // v2: memory.peak exists (5.19+)
    bool v2_kill = true;      // v2: cgroup.kill exists (5.14+)
    bool v1_pids_max = true;  // v1: pids.max exists (false to make a limit fail)
  };

  FakeCgroupFs() : FakeCgroupFs(Options{}) {}
  explicit FakeCgroupFs(Options options);

  const std::filesystem::path& root() const { return dir_.path(); }

  // v1: a hierarchy per controller list at root/<name>, e.g. add_v1("cpu,cpuacct").
  std::filesystem::path add_v1(const std::string& name);
  // The mounts map for make_cgroup_v1 of the hierarchies added (each controller -> its dir).
  std::map<std::string, std::filesystem::path> v1_mounts() const;

  // v2: the unified root at root/unified offering `controllers`.
  std::filesystem::path add_v2(std::string_view controllers = "cpuset cpu io memory pids");

  isolation::CgroupFsOps ops();

  static void put(const std::filesystem::path& file, std::string_view text);
  static std::string get(const std::filesystem::path& file);

 private:
  void populate(const std::filesystem::path& dir);
  int remove(const std::filesystem::path& dir);

  Options options_;
  TempDir dir_{"svc-fake-cgroupfs-"};
  std::map<std::filesystem::path, std::set<std::string>> v1_;  // hierarchy -> controllers
  std::filesystem::path v2_;
};

// Forks a child that waits in pause() with default signal dispositions (not Catch2's handlers,
// which would report the child's death as a test failure) and returns once it is ready. The
// caller kills and reaps it.
pid_t spawn_pausing_child();

}  // namespace svc::test
