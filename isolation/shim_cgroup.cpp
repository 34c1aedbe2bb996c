#include "isolation/shim_cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "common/fs.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

std::vector<CgroupMount> cgroup_mounts(const fs::path& proc) {
  std::vector<CgroupMount> out;
  auto text = read_file(proc / "self/mountinfo");
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    // mountinfo(5): id parent dev root mountpoint options [optional...] - fstype source super
    std::istringstream f(line);
    std::string id, parent, dev, root, mountpoint, options, field;
    f >> id >> parent >> dev >> root >> mountpoint >> options;
    while (f >> field && field != "-") {
    }
    std::string fstype, source, super;
    f >> fstype >> source >> super;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.mount_point = mountpoint;
    m.v2 = fstype == "cgroup2";
    std::istringstream opts(super);
    std::string opt;
    while (std::getline(opts, opt, ','))
      if (opt == "cpuset") m.cpuset = true;
    out.push_back(m);
  }
  return out;
}

ShimCgroups ShimCgroups::open(const std::vector<CgroupMount>& mounts, const std::string& name) {
  ShimCgroups s;
  for (const auto& m : mounts) {
    fs::path dir = m.mount_point / name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      s.skipped_.push_back(sys_error(errno, "mkdir " + dir.string()).message());
      continue;
    }
    if (m.cpuset) {
      // A v1 cpuset cgroup starts with no cpus and no memory nodes: nothing can join it.
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        auto mine = read_file(dir / file);
        if (mine && mine->find_first_not_of(" \n") != std::string::npos) continue;
        auto parent = read_file(m.mount_point / file);
        if (!parent) continue;
        // cgroupfs files take a plain write (no temp file and rename there).
        UniqueFd out(::open((dir / file).c_str(), O_WRONLY | O_CLOEXEC));
        if (out) {
          ssize_t ignored = ::write(out.get(), parent->data(), parent->size());
          (void)ignored;
        }
      }
    }
    UniqueFd fd(::open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
      s.skipped_.push_back(sys_error(errno, "open " + (dir / "cgroup.procs").string()).message());
      continue;
    }
    s.procs_.push_back(std::move(fd));
  }
  return s;
}

std::vector<int> ShimCgroups::fds() const {
  std::vector<int> out;
  for (const auto& f : procs_) out.push_back(f.get());
  return out;
}

Result<> remove_shim_cgroups(const std::vector<CgroupMount>& mounts, const std::string& name) {
  for (const auto& m : mounts) {
    fs::path dir = m.mount_point / name;
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return fail_errno("rmdir " + dir.string());
  }
  return {};
}

}  // namespace svc::isolation
