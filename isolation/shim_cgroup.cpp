#include "isolation/shim_cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
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
    std::vector<std::string> names;
    while (std::getline(opts, opt, ',')) {
      if (opt == "cpuset") m.cpuset = true;
      if (opt == "rw" || opt == "ro" || opt == "xattr" || opt == "noprefix" ||
          opt == "clone_children" || opt == "cpuset_v2_mode" || opt == "nsdelegate" ||
          opt == "memory_recursiveprot" || opt == "favordynmods" ||
          opt.starts_with("release_agent"))
        continue;
      names.push_back(opt);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) m.controllers += (m.controllers.empty() ? "" : ",") + n;
    out.push_back(m);
  }
  return out;
}

std::vector<std::string> own_cgroups(const std::vector<CgroupMount>& mounts, const fs::path& proc) {
  // cgroups(7): "hierarchy-ID:controller-list:cgroup-path"; cgroup2 is "0::path".
  std::map<std::string, std::string> by_controllers;
  if (auto text = read_file(proc / "self/cgroup")) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      auto a = line.find(':');
      auto b = line.find(':', a == std::string::npos ? 0 : a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::vector<std::string> names;
      std::istringstream cs(line.substr(a + 1, b - a - 1));
      std::string c;
      while (std::getline(cs, c, ',')) names.push_back(c);
      std::sort(names.begin(), names.end());
      std::string key;
      for (const auto& n : names) key += (key.empty() ? "" : ",") + n;
      by_controllers[key] = line.substr(b + 1);
    }
  }
  std::vector<std::string> out;
  for (const auto& m : mounts) {
    auto it = by_controllers.find(m.v2 ? std::string() : m.controllers);
    out.push_back(it == by_controllers.end() ? std::string() : it->second);
  }
  return out;
}

ShimCgroups ShimCgroups::open(const std::vector<CgroupMount>& mounts,
                              const std::vector<std::string>& own, const std::string& name,
                              const std::vector<fs::path>& sandbox_cgroup_dirs) {
  ShimCgroups s;
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    const CgroupMount& m = mounts[i];
    // The shim-to-be is single-threaded and writes "0": on v1, "tasks" moves it without the
    // kernel's global lock (cgroups/cgroup_driver.hpp, open_self_join_files).
    const char* join_file = m.v2 ? "cgroup.procs" : "tasks";
    bool own_cgroup = i < own.size() && !own[i].empty() && own[i] != "/";
    bool holds_sandboxes = false;
    std::string prefix = m.mount_point.string() + "/";
    for (const auto& d : sandbox_cgroup_dirs)
      if (d.string().starts_with(prefix)) holds_sandboxes = true;
    if (!own_cgroup) {
      if (!holds_sandboxes) continue;  // nothing to leave, nothing to come back from
      UniqueFd root(::open((m.mount_point / join_file).c_str(), O_WRONLY | O_CLOEXEC));
      if (root)
        s.procs_.push_back(std::move(root));
      else
        s.skipped_.push_back(
            sys_error(errno, "open " + (m.mount_point / join_file).string()).message());
      continue;
    }
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
    UniqueFd fd(::open((dir / join_file).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
      s.skipped_.push_back(sys_error(errno, "open " + (dir / join_file).string()).message());
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
