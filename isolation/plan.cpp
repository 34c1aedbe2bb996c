#include "isolation/plan.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

// Steps are written with designated initializers naming only what differs from the defaults;
// g++ 12 warns about every member left to its default initializer.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace svc::isolation {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr unsigned kNoSuidDevExec = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
constexpr std::uint32_t kTtyGid = 5;  // devpts gid= option: the "tty" group of Debian/Alpine

// An absolute, lexically normal path that is not "/" and has no NUL byte.
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

Result<> check_map(std::string_view what, const std::vector<IdMapping>& map) {
  if (map.empty()) return fail(Code::kInvalidArgument, "{}: no mapping", what);
  if (map.size() > 340)  // the kernel's limit on uid_map lines (Linux 4.15+)
    return fail(Code::kInvalidArgument, "{}: {} lines (at most 340)", what, map.size());
  for (const auto& m : map) {
    if (m.size == 0) return fail(Code::kInvalidArgument, "{}: a mapping of size 0", what);
    if (std::uint64_t(m.inside) + m.size > 0xFFFFFFFFull ||
        std::uint64_t(m.host) + m.size > 0xFFFFFFFFull)
      return fail(Code::kInvalidArgument, "{}: {} {} {} overflows 32 bits", what, m.inside, m.host,
                  m.size);
    if (m.host == 0)
      return fail(Code::kInvalidArgument,
                  "{}: maps host id 0 into the sandbox; a sandbox's root must not be the host's "
                  "root",
                  what);
  }
  return {};
}

}  // namespace

std::string RootfsPlan::overlay_lowerdir(const std::vector<std::string>& bottom_to_top) {
  // overlayfs(5): "lowerdir=top:...:bottom" — the first entry is the top layer.
  std::string out;
  for (auto it = bottom_to_top.rbegin(); it != bottom_to_top.rend(); ++it) {
    if (!out.empty()) out += ':';
    out += *it;
  }
  return out;
}

std::string format_id_map(const std::vector<IdMapping>& map) {
  std::string out;
  for (const auto& m : map) out += fmt::format("{} {} {}\n", m.inside, m.host, m.size);
  return out;
}

std::optional<std::uint32_t> map_to_host(const std::vector<IdMapping>& map, std::uint32_t inside) {
  for (const auto& m : map)
    if (inside >= m.inside && std::uint64_t(inside) < std::uint64_t(m.inside) + m.size)
      return m.host + (inside - m.inside);
  return std::nullopt;
}

Result<> validate_sandbox_id(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return fail(Code::kInvalidArgument, "sandbox id \"{}\": 1 to 128 characters", id);
  if (id[0] == '.' || id[0] == '-')
    return fail(Code::kInvalidArgument, "sandbox id \"{}\": must not start with '.' or '-'", id);
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok)
      return fail(Code::kInvalidArgument,
                  "sandbox id \"{}\": only letters, digits, '_', '.' and '-' are allowed", id);
  }
  return {};
}

Result<Plan> plan_sandbox(const SandboxSpec& spec, const PlanContext& ctx) {
  SVC_TRY(validate_sandbox_id(ctx.id));
  Plan plan;
  ChildPlan& child = plan.child;

  // --- ids
  if (spec.uid_mappings.empty() != spec.gid_mappings.empty())
    return fail(Code::kInvalidArgument, "uid and gid mappings must both be given or both empty");
  if (spec.uid_mappings.empty()) {
    if (ctx.ids.size == 0)
      return fail(Code::kInvalidArgument, "no id mapping and no range from the uid pool");
    plan.uid_map = {{0, ctx.ids.host_base, ctx.ids.size}};
    plan.gid_map = {{0, ctx.ids.host_base, ctx.ids.size}};
  } else {
    plan.uid_map = spec.uid_mappings;
    plan.gid_map = spec.gid_mappings;
  }
  SVC_TRY(check_map("uid mappings", plan.uid_map));
  SVC_TRY(check_map("gid mappings", plan.gid_map));
  if (!map_to_host(plan.uid_map, 0) || !map_to_host(plan.gid_map, 0))
    return fail(Code::kInvalidArgument,
                "the mappings must map id 0 (the sandbox's root, which sets it up)");
  const ProcessSpec& proc = spec.process;
  if (!map_to_host(plan.uid_map, proc.uid))
    return fail(Code::kInvalidArgument, "process.user.uid {} is not in the uid mappings", proc.uid);
  if (!map_to_host(plan.gid_map, proc.gid))
    return fail(Code::kInvalidArgument, "process.user.gid {} is not in the gid mappings", proc.gid);
  for (auto g : proc.additional_gids)
    if (!map_to_host(plan.gid_map, g))
      return fail(Code::kInvalidArgument, "additional gid {} is not in the gid mappings", g);
  if (proc.additional_gids.size() > 256)
    return fail(Code::kInvalidArgument, "{} additional gids (at most 256)",
                proc.additional_gids.size());

  // --- namespaces and network
  const NamespaceSet& ns = spec.namespaces;
  child.clone_flags = CLONE_NEWUSER | CLONE_NEWNS;
  if (ns.pid) child.clone_flags |= CLONE_NEWPID;
  if (ns.net) child.clone_flags |= CLONE_NEWNET;
  if (ns.ipc) child.clone_flags |= CLONE_NEWIPC;
  if (ns.uts) child.clone_flags |= CLONE_NEWUTS;
  if (ns.cgroup) child.clone_flags |= CLONE_NEWCGROUP;
  plan.network = spec.network;
  if (spec.network == NetworkMode::kHost && ns.net)
    return fail(Code::kInvalidArgument, "network mode host needs the network namespace off");
  if (spec.network != NetworkMode::kHost && !ns.net)
    return fail(Code::kInvalidArgument,
                "without a network namespace the only network mode is host");
  child.loopback_up = spec.network == NetworkMode::kPrivate || spec.network == NetworkMode::kBridge;
  if (ns.uts) child.hostname = spec.hostname.empty() ? ctx.id.substr(0, 64) : spec.hostname;
  if (child.hostname.size() > 64)
    return fail(Code::kInvalidArgument, "hostname \"{}\" is longer than 64 bytes", child.hostname);

  // --- rootfs
  if (spec.rootfs.lower.empty())
    return fail(Code::kInvalidArgument, "rootfs: no layer (lower dir) given");
  if (!spec.rootfs.overlay && spec.rootfs.lower.size() != 1)
    return fail(Code::kInvalidArgument,
                "rootfs: a root without overlay is exactly one directory ({} given)",
                spec.rootfs.lower.size());
  if (spec.rootfs.lower.size() > 128)
    return fail(Code::kInvalidArgument, "rootfs: {} layers (at most 128)",
                spec.rootfs.lower.size());
  for (const auto& l : spec.rootfs.lower)
    if (!l.is_absolute())
      return fail(Code::kInvalidArgument, "rootfs: layer \"{}\" is not an absolute path",
                  l.string());
  plan.rootfs.lower = spec.rootfs.lower;
  plan.rootfs.overlay = spec.rootfs.overlay;
  plan.rootfs.readonly = spec.rootfs.readonly;
  plan.rootfs.staging = ctx.sandbox_dir / "rootfs";
  if (spec.rootfs.overlay) {
    plan.rootfs.upper = ctx.sandbox_dir / "upper";
    plan.rootfs.work = ctx.sandbox_dir / "work";
  }
  child.readonly_rootfs = spec.rootfs.readonly;

  // --- the standard file systems
  auto& steps = child.steps;
  if (ns.pid)
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
  // Device nodes: the host's nodes bound in (a user namespace may not mknod). The host nodes are
  // only ever bind-mounted, never chowned, chmodded or replaced.
  for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty"})
    steps.push_back({.kind = StepKind::kBindHost,
                     .target = std::string("/dev/") + dev,
                     .source = std::string("/dev/") + dev,
                     .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                     .target_is_file = true});
  std::vector<std::pair<std::string, std::string>> pts = {
      {"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}};
  if (map_to_host(plan.gid_map, kTtyGid)) pts.emplace_back("gid", std::to_string(kTtyGid));
  steps.push_back({.kind = StepKind::kMountFs,
                   .target = "/dev/pts",
                   .source = "devpts",
                   .options = pts,
                   .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC});
  steps.push_back({.kind = StepKind::kSymlink, .target = "/dev/ptmx", .source = "pts/ptmx"});
  steps.push_back({.kind = StepKind::kSymlink, .target = "/dev/fd", .source = "/proc/self/fd"});
  steps.push_back(
      {.kind = StepKind::kSymlink, .target = "/dev/stdin", .source = "/proc/self/fd/0"});
  steps.push_back(
      {.kind = StepKind::kSymlink, .target = "/dev/stdout", .source = "/proc/self/fd/1"});
  steps.push_back(
      {.kind = StepKind::kSymlink, .target = "/dev/stderr", .source = "/proc/self/fd/2"});
  steps.push_back({.kind = StepKind::kMountFs,
                   .target = "/dev/shm",
                   .source = "tmpfs",
                   .options = {{"mode", "1777"}, {"size", "65536k"}},
                   .attrs = kNoSuidDevExec});
  if (ns.ipc)  // mqueue belongs to the IPC namespace; without one, none is mounted
    steps.push_back({.kind = StepKind::kMountFs,
                     .target = "/dev/mqueue",
                     .source = "mqueue",
                     .attrs = kNoSuidDevExec});
  if (ns.net)
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

  // --- the spec's mounts, in order
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountSpec& m = spec.mounts[i];
    std::string field = fmt::format("mounts[{}]", i);
    std::string target = SVC_TRY(clean_target(field, m.target));
    if (under(target, "/proc"))
      return fail(Code::kInvalidArgument, "{}: mounting over /proc is refused", field);
    unsigned attrs = (m.readonly ? MOUNT_ATTR_RDONLY : 0u) | (m.nosuid ? MOUNT_ATTR_NOSUID : 0u) |
                     (m.nodev ? MOUNT_ATTR_NODEV : 0u) | (m.noexec ? MOUNT_ATTR_NOEXEC : 0u);
    if (m.type == MountSpec::Type::kTmpfs) {
      steps.push_back({.kind = StepKind::kMountFs,
                       .target = target,
                       .source = "tmpfs",
                       .options = split_options(m.tmpfs_options),
                       .attrs = attrs,
                       .no_symlinks = false});
    } else {
      if (!m.source.is_absolute())
        return fail(Code::kInvalidArgument, "{}: source \"{}\" is not an absolute path", field,
                    m.source.string());
      plan.binds.push_back({.source = m.source,
                            .recursive = m.recursive,
                            .readonly = m.readonly,
                            .idmap = m.idmap,
                            .attrs = attrs});
      steps.push_back({.kind = StepKind::kBindPrepared,
                       .target = target,
                       .attrs = attrs,
                       .index = static_cast<int>(plan.binds.size() - 1),
                       .no_symlinks = false});
    }
  }

  // --- masks and read-only paths, last, over everything mounted above
  for (const auto& p : spec.masked_paths)
    steps.push_back({.kind = StepKind::kMask,
                     .target = SVC_TRY(clean_target("maskedPaths", p)),
                     .source = "/dev/null"});
  for (const auto& p : spec.readonly_paths)
    steps.push_back(
        {.kind = StepKind::kReadonly, .target = SVC_TRY(clean_target("readonlyPaths", p))});

  // --- the process
  if (proc.args.empty() || proc.args[0].empty())
    return fail(Code::kInvalidArgument, "process.args: nothing to run");
  child.argv = proc.args;
  child.path = kDefaultPath;
  for (const auto& e : proc.env) {
    if (e.find('=') == std::string::npos || e[0] == '=')
      return fail(Code::kInvalidArgument, "process.env: \"{}\" is not KEY=value", e);
    if (e.find('\0') != std::string::npos)
      return fail(Code::kInvalidArgument, "process.env: an entry contains a NUL byte");
    if (e.starts_with("PATH=")) child.path = e.substr(5);
  }
  for (const auto& a : proc.args)
    if (a.find('\0') != std::string::npos)
      return fail(Code::kInvalidArgument, "process.args: an argument contains a NUL byte");
  child.env = proc.env;
  if (proc.cwd.empty() || proc.cwd[0] != '/')
    return fail(Code::kInvalidArgument, "process.cwd \"{}\" is not an absolute path", proc.cwd);
  child.cwd = std::filesystem::path(proc.cwd).lexically_normal().string();
  if (under(child.cwd, "/proc"))  // the /proc/self/fd/N class of escapes (CVE-2024-21626)
    return fail(Code::kInvalidArgument, "process.cwd \"{}\" is under /proc; refused", proc.cwd);
  child.uid = proc.uid;
  child.gid = proc.gid;
  child.groups = proc.additional_gids;

  std::set<int> seen;
  for (const Rlimit& r : proc.rlimits) {
    if (r.resource < 0 || r.resource >= RLIM_NLIMITS)
      return fail(Code::kInvalidArgument, "rlimits: unknown resource {}", r.resource);
    if (!seen.insert(r.resource).second)
      return fail(Code::kInvalidArgument, "rlimits: resource {} given twice", r.resource);
    Rlimit c = r;
    // Asking for more than the host's hard limit fails the whole start (podman + crun with
    // RLIMIT_NOFILE 1048576 on a host whose hard limit is 20000): clamp instead.
    auto host = ctx.host_hard_limits.find(r.resource);
    if (host != ctx.host_hard_limits.end()) c.hard = std::min(c.hard, host->second);
    c.soft = std::min(c.soft, c.hard);
    child.rlimits.push_back(c);
  }

  std::uint64_t known = ctx.cap_last_cap >= 63 ? ~0ull : ((1ull << (ctx.cap_last_cap + 1)) - 1);
  child.caps = proc.capabilities;
  child.caps.bounding &= known;
  child.caps.permitted &= child.caps.bounding;
  child.caps.effective &= child.caps.permitted;
  child.caps.inheritable &= child.caps.bounding;
  // Ambient capabilities must be permitted and inheritable (capabilities(7)).
  child.caps.ambient &= child.caps.permitted & child.caps.inheritable;
  child.cap_last_cap = ctx.cap_last_cap;

  plan.cgroup = ctx.cgroup;
  plan.limits = spec.resources;
  if (plan.limits.pids < 0 || plan.limits.cpu_millis < 0)
    return fail(Code::kInvalidArgument, "resources: negative limits");
  return plan;
}

}  // namespace svc::isolation
