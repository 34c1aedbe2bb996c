#include "isolation/cgroups/cgroup_tree.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <system_error>

#include "common/fs.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

bool names_controller(const std::string& controllers, std::string_view want) {
  std::size_t start = 0;
  while (start <= controllers.size()) {
    std::size_t end = controllers.find(',', start);
    if (end == std::string::npos) end = controllers.size();
    if (std::string_view(controllers).substr(start, end - start) == want) return true;
    start = end + 1;
  }
  return false;
}

// Who holds an flock on the anchor, from <proc>/locks ("1: FLOCK  ADVISORY  WRITE <pid>
// <maj>:<min>:<inode> 0 EOF"; waiters have "->" after the number); 0 when it cannot be told.
pid_t lock_holder(const fs::path& proc, const fs::path& anchor) {
  struct stat st {};
  if (::stat(anchor.c_str(), &st) != 0) return 0;
  auto text = read_file(proc / "locks");
  if (!text) return 0;
  std::string inode = ":" + std::to_string(st.st_ino);
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string t; words >> t;) w.push_back(t);
    if (w.size() < 6 || w[1] == "->" || w[1] != "FLOCK") continue;
    if (!w[5].ends_with(inode)) continue;
    char* end = nullptr;
    long pid = std::strtol(w[4].c_str(), &end, 10);
    if (end && *end == '\0' && pid > 0) return static_cast<pid_t>(pid);
  }
  return 0;
}

}  // namespace

fs::path cgroup_tree_anchor(const std::vector<CgroupMount>& mounts, const std::string& name) {
  for (const auto& m : mounts)
    if (!m.v2 && names_controller(m.controllers, "pids")) return m.mount_point / name;
  for (const auto& m : mounts)
    if (m.v2) return m.mount_point / name;
  return {};
}

Result<UniqueFd> claim_cgroup_tree(const std::vector<CgroupMount>& mounts, const std::string& name,
                                   const fs::path& proc) {
  fs::path anchor = cgroup_tree_anchor(mounts, name);
  if (anchor.empty())
    return fail(Code::kFailedPrecondition,
                "claim cgroup tree {}: no cgroup hierarchy with the pids controller and no "
                "cgroup2 mount on this host",
                name);
  if (::mkdir(anchor.c_str(), 0755) != 0 && errno != EEXIST)
    return fail_errno(fmt::format("claim cgroup tree {}: create {}", name, anchor.string()));
  UniqueFd fd(::open(anchor.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fail_errno(fmt::format("claim cgroup tree {}: open {}", name, anchor.string()));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      return fail_errno(fmt::format("claim cgroup tree {}: lock {}", name, anchor.string()));
    pid_t holder = lock_holder(proc, anchor);
    return fail(Code::kAlreadyExists,
                "cgroup tree {} ({}) is in use by another svcd{}: two daemons must not share "
                "one (each would take the other's sandboxes for orphans). Give this one "
                "another [isolation] cgroup_base and shim_cgroup, or leave both unset so "
                "they follow its state dir",
                name, anchor.string(), holder ? fmt::format(" (pid {})", holder) : "");
  }
  return fd;
}

std::vector<fs::path> remove_cgroup_tree(const std::vector<CgroupMount>& mounts,
                                         const std::string& name) {
  std::vector<fs::path> left;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return left;
  for (const auto& m : mounts) {
    fs::path top = m.mount_point / name;
    std::error_code ec;
    if (!fs::is_directory(fs::symlink_status(top, ec))) continue;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(top, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
    }
    // Deepest first: a parent goes only once its children have.
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    dirs.push_back(top);
    for (const auto& d : dirs)
      if (::rmdir(d.c_str()) != 0 && errno != ENOENT) left.push_back(d);
  }
  return left;
}

}  // namespace svc::isolation
