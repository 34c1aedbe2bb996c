// Picks the cgroup driver a probed CgroupLayout names, with the mount points it needs.
#include "isolation/cgroups/cgroup_driver.hpp"

#include <sys/stat.h>

#include <system_error>

#include "isolation/cgroups/cgroup_files.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

bool is_dir(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A v1 controller's hierarchy below root: root/<name> (also a distribution's symlink to a
// co-mount), else a co-mount named with commas, such as root/"cpu,cpuacct".
fs::path find_v1_mount(const fs::path& root, const std::string& name) {
  if (is_dir(root / name)) return root / name;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string dir = entry.path().filename().string();
    if (dir.find(',') == std::string::npos) continue;
    std::size_t start = 0;
    while (start <= dir.size()) {
      std::size_t end = dir.find(',', start);
      if (end == std::string::npos) end = dir.size();
      if (dir.compare(start, end - start, name) == 0 && is_dir(entry.path())) return entry.path();
      start = end + 1;
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver(const CgroupLayout& layout,
                                                         std::string base) {
  return make_cgroup_driver_below(layout, std::move(base), {});
}

Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver_below(
    const CgroupLayout& layout, std::string base,
    const std::function<fs::path(const fs::path&)>& below) {
  if (!base.empty()) SVC_TRY(cgroups::check_relative(base, "cgroup base"));
  auto root_of = [&](const fs::path& mount) { return below ? below(mount) : mount; };
  if (layout.driver == "v2") {
    if (layout.unified.empty())
      return fail(Code::kFailedPrecondition,
                  "cgroup layout names the v2 driver but no cgroup2 mount");
    return make_cgroup_v2(root_of(layout.unified), std::move(base));
  }
  if (layout.driver == "v1") {
    std::map<std::string, fs::path> mounts;
    for (const auto& c : layout.controllers) {
      if (c.version != "v1" || !c.usable) continue;
      if (c.name != "cpu" && c.name != "cpuacct" && c.name != "memory" && c.name != "pids" &&
          c.name != "freezer" && c.name != "cpuset" && c.name != "devices")
        continue;
      fs::path m = find_v1_mount(layout.root, c.name);
      if (m.empty() && (c.name == "cpuset" || c.name == "devices")) continue;  // on demand only
      if (m.empty())
        return fail(Code::kFailedPrecondition,
                    "cgroup v1 controller {} is mounted, but not as a directory below {}", c.name,
                    layout.root.string());
      mounts[c.name] = root_of(m);
    }
    return make_cgroup_v1(std::move(mounts), std::move(base));
  }
  return fail(Code::kFailedPrecondition,
              "no usable cgroup driver on this host: neither the cgroup2 hierarchy nor v1 "
              "hierarchies offer cpu, memory and pids (see /proc/self/mountinfo and "
              "/proc/cgroups)");
}

}  // namespace svc::isolation
