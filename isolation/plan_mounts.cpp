// The sandbox's file systems as child steps. Two shapes:
// - svc's own (spec.system_mounts): /proc, a /dev tmpfs with the host's null, zero, full,
//   random, urandom and tty bound in, devpts, shm, mqueue and a read-only /sys, then the spec's
//   bind and tmpfs mounts;
// - an OCI bundle's: exactly its mounts, in its order, then (unless /dev is bound from
//   somewhere) the standard nodes and links in /dev, as runc and crun make them.
// Then in both: the spec's device nodes, the masks and the read-only paths.
#include "isolation/plan_mounts.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

// Steps are written with designated initializers naming only what differs from the defaults;
// g++ 12 warns about every member left to its default initializer.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace svc::isolation::detail {

namespace {

constexpr unsigned kNoSuidDevExec = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
constexpr std::uint32_t kTtyGid = 5;  // devpts gid= option: the "tty" group of Debian/Alpine

// The nodes every container finds in /dev (runtime-spec config-linux.md "Default Devices").
constexpr const char* kDefaultDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

// What runc lets an OCI bundle mount below /proc besides procfs itself: files lxcfs and
// similar tools replace (runc libcontainer/rootfs_linux.go checkProcMount).
constexpr const char* kProcFiles[] = {"/proc/cpuinfo", "/proc/diskstats",
                                      "/proc/meminfo", "/proc/stat",
                                      "/proc/swaps",   "/proc/uptime",
                                      "/proc/loadavg", "/proc/slabinfo",
                                      "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};

void add_dev_nodes(std::vector<ChildStep>& steps, const std::set<std::string>& skip) {
  // The host's nodes bound in (a user namespace may not mknod). The host nodes are only ever
  // bind-mounted, never chowned, chmodded or replaced.
  for (const char* dev : kDefaultDevices) {
    std::string target = std::string("/dev/") + dev;
    if (skip.count(target)) continue;
    steps.push_back({.kind = StepKind::kBindHost,
                     .target = target,
                     .source = target,
                     .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                     .target_is_file = true});
  }
}

void add_dev_links(std::vector<ChildStep>& steps) {
  steps.push_back({.kind = StepKind::kSymlink, .target = "/dev/ptmx", .source = "pts/ptmx"});
  steps.push_back({.kind = StepKind::kSymlink, .target = "/dev/fd", .source = "/proc/self/fd"});
  steps.push_back(
      {.kind = StepKind::kSymlink, .target = "/dev/stdin", .source = "/proc/self/fd/0"});
  steps.push_back(
      {.kind = StepKind::kSymlink, .target = "/dev/stdout", .source = "/proc/self/fd/1"});
  steps.push_back(
      {.kind = StepKind::kSymlink, .target = "/dev/stderr", .source = "/proc/self/fd/2"});
}

void svc_system_mounts(const Plan& plan, std::vector<ChildStep>& steps) {
  const bool new_pid = (plan.child.clone_flags & CLONE_NEWPID) != 0;
  const bool new_net = (plan.child.clone_flags & CLONE_NEWNET) != 0;
  const bool new_ipc = (plan.child.clone_flags & CLONE_NEWIPC) != 0;
  if (new_pid)
    steps.push_back(
        {.kind = StepKind::kMountFs, .target = "/proc", .source = "proc", .attrs = kNoSuidDevExec});
  else  // a new procfs needs a pid namespace owned by the sandbox's user namespace
    steps.push_back({.kind = StepKind::kBindHost,
                     .target = "/proc",
                     .source = "/proc",
                     .attrs = kNoSuidDevExec,
                     .recursive = true});
  steps.push_back({.kind = StepKind::kMountFs,
                   .target = "/dev",
                   .source = "tmpfs",
                   .options = {{"mode", "755"}, {"size", "65536k"}},
                   .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC});
  add_dev_nodes(steps, {});
  std::vector<std::pair<std::string, std::string>> pts = {
      {"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}};
  if (plan.gid_map.empty() || map_to_host(plan.gid_map, kTtyGid))
    pts.emplace_back("gid", std::to_string(kTtyGid));
  steps.push_back({.kind = StepKind::kMountFs,
                   .target = "/dev/pts",
                   .source = "devpts",
                   .options = pts,
                   .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC});
  add_dev_links(steps);
  steps.push_back({.kind = StepKind::kMountFs,
                   .target = "/dev/shm",
                   .source = "tmpfs",
                   .options = {{"mode", "1777"}, {"size", "65536k"}},
                   .attrs = kNoSuidDevExec});
  if (new_ipc)  // mqueue belongs to the IPC namespace; without one, none is mounted
    steps.push_back({.kind = StepKind::kMountFs,
                     .target = "/dev/mqueue",
                     .source = "mqueue",
                     .attrs = kNoSuidDevExec});
  if (new_net)
    steps.push_back({.kind = StepKind::kMountFs,
                     .target = "/sys",
                     .source = "sysfs",
                     .attrs = MOUNT_ATTR_RDONLY | kNoSuidDevExec});
  else  // a new sysfs needs a network namespace owned by the sandbox's user namespace
    steps.push_back({.kind = StepKind::kBindHost,
                     .target = "/sys",
                     .source = "/sys",
                     .attrs = MOUNT_ATTR_RDONLY | kNoSuidDevExec,
                     .recursive = true});
}

// svc's own rule: nothing of the spec's goes below /proc. An OCI bundle may mount procfs at
// /proc and bind the files runc allows there.
Result<> check_proc_target(const MountSpec& m, const std::string& target, bool system_mounts,
                           std::string_view field) {
  if (!under(target, "/proc")) return {};
  if (!system_mounts) {
    if (target == "/proc" && m.type == MountSpec::Type::kFilesystem && m.fs_type == "proc")
      return {};
    if (m.type == MountSpec::Type::kBind &&
        std::find(std::begin(kProcFiles), std::end(kProcFiles), target) != std::end(kProcFiles))
      return {};
    return fail(Code::kInvalidArgument,
                "{}: {} below /proc is refused (only procfs at /proc and binds over {} are "
                "allowed, as in runc)",
                field, target, "/proc/cpuinfo, /proc/meminfo, /proc/stat, ...");
  }
  return fail(Code::kInvalidArgument, "{}: mounting over /proc is refused", field);
}

unsigned mount_attrs(const MountSpec& m) {
  return (m.readonly ? MOUNT_ATTR_RDONLY : 0u) | (m.nosuid ? MOUNT_ATTR_NOSUID : 0u) |
         (m.nodev ? MOUNT_ATTR_NODEV : 0u) | (m.noexec ? MOUNT_ATTR_NOEXEC : 0u) | m.atime;
}

Result<> spec_mount(const MountSpec& m, std::size_t i, bool system_mounts, Plan& plan) {
  auto& steps = plan.child.steps;
  std::string field = fmt::format("mounts[{}]", i);
  std::string target = SVC_TRY(clean_target(field, m.target));
  SVC_TRY(check_proc_target(m, target, system_mounts, field));
  unsigned attrs = mount_attrs(m);
  switch (m.type) {
    case MountSpec::Type::kTmpfs:
      steps.push_back({.kind = StepKind::kMountFs,
                       .target = target,
                       .source = "tmpfs",
                       .options = split_options(m.tmpfs_options),
                       .attrs = attrs,
                       .no_symlinks = false,
                       .propagation = m.propagation});
      return {};
    case MountSpec::Type::kFilesystem: {
      if (m.fs_type.empty() || m.fs_type.find_first_of(",/ ") != std::string::npos)
        return fail(Code::kInvalidArgument, "{}: file system type \"{}\" is not valid", field,
                    m.fs_type);
      if (m.fs_type == "cgroup" || m.fs_type == "cgroup2") {
        plan.child.cgroup_fs.readonly = m.readonly;
        steps.push_back(
            {.kind = StepKind::kCgroupFs, .target = target, .attrs = attrs, .no_symlinks = false});
        return {};
      }
      if (m.fs_type == "sysfs" && plan.new_userns && !(plan.child.clone_flags & CLONE_NEWNET)) {
        // A new sysfs needs a network namespace owned by the sandbox's user namespace; with
        // the runtime's or a joined one, the host's /sys is bound instead (runc does the same).
        steps.push_back({.kind = StepKind::kBindHost,
                         .target = target,
                         .source = "/sys",
                         .attrs = attrs,
                         .recursive = true});
        return {};
      }
      steps.push_back({.kind = StepKind::kMountFs,
                       .target = target,
                       .source = m.fs_type,
                       .options = split_options(m.fs_options),
                       .attrs = attrs,
                       .no_symlinks = false,
                       .fs_source = m.fs_source,
                       .propagation = m.propagation});
      return {};
    }
    case MountSpec::Type::kBind:
      if (!m.source.is_absolute())
        return fail(Code::kInvalidArgument, "{}: source \"{}\" is not an absolute path", field,
                    m.source.string());
      if (m.idmap && !plan.new_userns)
        return fail(Code::kInvalidArgument,
                    "{}: an idmapped bind mount needs a user namespace (add one with "
                    "mappings, or drop the idmap option)",
                    field);
      plan.binds.push_back({.source = m.source,
                            .recursive = m.recursive,
                            .readonly = m.readonly,
                            .idmap = m.idmap,
                            .attrs = attrs});
      steps.push_back({.kind = StepKind::kBindPrepared,
                       .target = target,
                       .attrs = attrs,
                       .index = static_cast<int>(plan.binds.size() - 1),
                       .no_symlinks = false,
                       .propagation = m.propagation});
      return {};
  }
  return {};
}

Result<> device_step(const DeviceSpec& d, std::size_t i, std::vector<ChildStep>& steps) {
  std::string field = fmt::format("devices[{}]", i);
  std::string target = SVC_TRY(clean_target(field, d.path));
  if (!under(target, "/dev"))
    return fail(Code::kInvalidArgument, "{}: {} is not below /dev", field, target);
  std::uint32_t type = 0;
  switch (d.type) {
    case 'c':
    case 'u':
      type = S_IFCHR;
      break;
    case 'b':
      type = S_IFBLK;
      break;
    case 'p':
      type = S_IFIFO;
      break;
    default:
      return fail(Code::kInvalidArgument, "{}: type '{}' is not c, u, b or p", field, d.type);
  }
  if (d.mode & ~07777u)
    return fail(Code::kInvalidArgument, "{}: mode {:o} has bits beyond 07777", field, d.mode);
  steps.push_back({.kind = StepKind::kDevice,
                   .target = target,
                   .source = target,
                   .mode = type | d.mode,
                   .dev = type == S_IFIFO ? 0 : makedev(d.major, d.minor),
                   .uid = d.uid,
                   .gid = d.gid});
  return {};
}

}  // namespace

Result<std::string> clean_target(std::string_view field, const std::string& path) {
  if (path.empty() || path[0] != '/')
    return fail(Code::kInvalidArgument, "{}: \"{}\" is not an absolute path", field, path);
  if (path.find('\0') != std::string::npos)
    return fail(Code::kInvalidArgument, "{}: the path contains a NUL byte", field);
  std::string norm = std::filesystem::path(path).lexically_normal().string();
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
  if (norm == "/")
    return fail(Code::kInvalidArgument, "{}: \"{}\" names the root itself", field, path);
  if (norm.size() > 3000)
    return fail(Code::kInvalidArgument, "{}: the path is longer than 3000 bytes", field);
  return norm;
}

bool under(const std::string& path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::vector<std::pair<std::string, std::string>> split_options(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string::npos)
      out.emplace_back(item, "");
    else
      out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

Result<> plan_mounts(const SandboxSpec& spec, Plan& plan) {
  auto& steps = plan.child.steps;
  if (spec.system_mounts) svc_system_mounts(plan, steps);

  // --- the spec's mounts, in order
  bool dev_bound = false;
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    SVC_TRY(spec_mount(spec.mounts[i], i, spec.system_mounts, plan));
    if (spec.mounts[i].type == MountSpec::Type::kBind &&
        std::filesystem::path(spec.mounts[i].target).lexically_normal() == "/dev")
      dev_bound = true;
  }

  // --- an OCI bundle's /dev: the standard nodes and links (the bundle's own devices win)
  if (!spec.system_mounts && !dev_bound) {
    std::set<std::string> own;
    for (const auto& d : spec.devices)
      own.insert(std::filesystem::path(d.path).lexically_normal().string());
    add_dev_nodes(steps, own);
    add_dev_links(steps);
  }
  for (std::size_t i = 0; i < spec.devices.size(); ++i)
    SVC_TRY(device_step(spec.devices[i], i, steps));

  // --- masks and read-only paths, last, over everything mounted above
  for (const auto& p : spec.masked_paths)
    steps.push_back({.kind = StepKind::kMask,
                     .target = SVC_TRY(clean_target("maskedPaths", p)),
                     .source = "/dev/null"});
  for (const auto& p : spec.readonly_paths)
    steps.push_back(
        {.kind = StepKind::kReadonly, .target = SVC_TRY(clean_target("readonlyPaths", p))});
  return {};
}

}  // namespace svc::isolation::detail
