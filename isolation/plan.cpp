#include "isolation/plan.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "isolation/plan_mounts.hpp"

// Steps are written with designated initializers naming only what differs from the defaults;
// g++ 12 warns about every member left to its default initializer.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace svc::isolation {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

using detail::clean_target;
using detail::under;

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

namespace {

struct NsType {
  const char* name;  // OCI spelling
  int flag;
};
constexpr NsType kNsTypes[] = {{"pid", CLONE_NEWPID},  {"network", CLONE_NEWNET},
                               {"ipc", CLONE_NEWIPC},  {"uts", CLONE_NEWUTS},
                               {"mount", CLONE_NEWNS}, {"cgroup", CLONE_NEWCGROUP},
                               {"user", CLONE_NEWUSER}};

Result<> plan_ids(const SandboxSpec& spec, const PlanContext& ctx, Plan& plan) {
  if (spec.uid_mappings.empty() != spec.gid_mappings.empty())
    return fail(Code::kInvalidArgument, "uid and gid mappings must both be given or both empty");
  const ProcessSpec& proc = spec.process;
  if (!plan.new_userns) {
    // The runtime's user namespace: ids are the host's, nothing to map.
    if (!spec.uid_mappings.empty())
      return fail(Code::kInvalidArgument,
                  "uid and gid mappings need a user namespace (add one to linux.namespaces)");
  } else {
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
    if (!map_to_host(plan.uid_map, proc.uid))
      return fail(Code::kInvalidArgument, "process.user.uid {} is not in the uid mappings",
                  proc.uid);
    if (!map_to_host(plan.gid_map, proc.gid))
      return fail(Code::kInvalidArgument, "process.user.gid {} is not in the gid mappings",
                  proc.gid);
    for (auto g : proc.additional_gids)
      if (!map_to_host(plan.gid_map, g))
        return fail(Code::kInvalidArgument, "additional gid {} is not in the gid mappings", g);
  }
  if (proc.additional_gids.size() > 256)
    return fail(Code::kInvalidArgument, "{} additional gids (at most 256)",
                proc.additional_gids.size());
  return {};
}

// New, joined or inherited, per namespace; and the network that follows from it.
Result<> plan_namespaces(const SandboxSpec& spec, const PlanContext& ctx, Plan& plan) {
  ChildPlan& child = plan.child;
  const NamespaceSet& ns = spec.namespaces;
  for (const auto& joined : ns.join) {
    const auto& [type, path] = joined;
    // (clang 14 cannot capture a structured binding: compare through the pair.)
    auto it = std::find_if(std::begin(kNsTypes), std::end(kNsTypes),
                           [&](const NsType& t) { return joined.first == t.name; });
    if (it == std::end(kNsTypes))
      return fail(Code::kInvalidArgument, "namespace to join: unknown type \"{}\"", type);
    if (it->flag == CLONE_NEWUSER)
      return fail(Code::kUnimplemented,
                  "joining a user namespace ({}) is not supported; let the runtime make one "
                  "with your mappings",
                  path);
    if (path.empty() || path[0] != '/')
      return fail(Code::kInvalidArgument, "the {} namespace's path \"{}\" is not absolute", type,
                  path);
    plan.joins.push_back({it->flag, path});
  }
  auto joined = [&](int flag) {
    return std::any_of(plan.joins.begin(), plan.joins.end(),
                       [&](const NamespaceJoin& j) { return j.type == flag; });
  };
  auto want = [&](bool make, int flag) {
    if (make && !joined(flag)) child.clone_flags |= static_cast<unsigned long>(flag);
  };
  want(ns.user, CLONE_NEWUSER);
  want(ns.mount, CLONE_NEWNS);
  want(ns.pid, CLONE_NEWPID);
  want(ns.net, CLONE_NEWNET);
  want(ns.ipc, CLONE_NEWIPC);
  want(ns.uts, CLONE_NEWUTS);
  want(ns.cgroup, CLONE_NEWCGROUP);
  plan.new_userns = (child.clone_flags & CLONE_NEWUSER) != 0;
  // A joined mount namespace is entered whole: its own root, nothing of the host's to pivot from.
  child.chroot = !(child.clone_flags & CLONE_NEWNS) && !joined(CLONE_NEWNS);
  if (plan.new_userns && joined(CLONE_NEWNS))
    return fail(Code::kUnimplemented,
                "joining a mount namespace from a new user namespace is not supported (the new "
                "user namespace could not mount in it)");

  const bool new_net = (child.clone_flags & CLONE_NEWNET) != 0;
  plan.network = spec.network;
  if (spec.network == NetworkMode::kHost && new_net)
    return fail(Code::kInvalidArgument, "network mode host needs the network namespace off");
  if (spec.network != NetworkMode::kHost && !new_net)
    return fail(Code::kInvalidArgument,
                "without a network namespace of its own the only network mode is host");
  child.loopback_up = spec.network == NetworkMode::kPrivate || spec.network == NetworkMode::kBridge;

  // The hostname: set in a UTS namespace of the sandbox's (new or joined). svc names the
  // sandbox after its id; an OCI bundle without one keeps the namespace's.
  const bool own_uts = (child.clone_flags & CLONE_NEWUTS) || joined(CLONE_NEWUTS);
  if (own_uts)
    child.hostname =
        !spec.hostname.empty() ? spec.hostname : (spec.system_mounts ? ctx.id.substr(0, 64) : "");
  else if (!spec.hostname.empty() && !spec.system_mounts)
    return fail(Code::kInvalidArgument,
                "hostname \"{}\" needs a UTS namespace (add one to linux.namespaces)",
                spec.hostname);
  if (child.hostname.size() > 64)
    return fail(Code::kInvalidArgument, "hostname \"{}\" is longer than 64 bytes", child.hostname);
  return {};
}

// Only sysctls that belong to a namespace of the sandbox's own may be set: the others are the
// host's (runc's rule, libcontainer/configs/validate).
Result<> plan_sysctls(const SandboxSpec& spec, Plan& plan) {
  const unsigned long f = plan.child.clone_flags;
  auto joined = [&](int flag) {
    return std::any_of(plan.joins.begin(), plan.joins.end(),
                       [&](const NamespaceJoin& j) { return j.type == flag; });
  };
  const bool ipc = (f & CLONE_NEWIPC) || joined(CLONE_NEWIPC);
  const bool net = (f & CLONE_NEWNET) || joined(CLONE_NEWNET);
  const bool uts = (f & CLONE_NEWUTS) || joined(CLONE_NEWUTS);
  for (const auto& [key, value] : spec.sysctl) {
    if (key.empty() || key.find("..") != std::string::npos || key.find('/') != std::string::npos ||
        key.front() == '.' || key.back() == '.')
      return fail(Code::kInvalidArgument, "linux.sysctl: \"{}\" is not a sysctl name", key);
    if (value.find('\0') != std::string::npos || value.find('\n') != std::string::npos)
      return fail(Code::kInvalidArgument, "linux.sysctl: the value of {} has a NUL or newline",
                  key);
    bool ok = false;
    const char* needs = "";
    if (key.starts_with("kernel.msg") || key.starts_with("kernel.shm") || key == "kernel.sem" ||
        key.starts_with("fs.mqueue.")) {
      ok = ipc;
      needs = "an IPC namespace";
    } else if (key.starts_with("net.")) {
      ok = net;
      needs = "a network namespace";
    } else if (key == "kernel.hostname" || key == "kernel.domainname") {
      ok = uts;
      needs = "a UTS namespace";
    } else {
      return fail(Code::kInvalidArgument,
                  "linux.sysctl: {} is not namespaced; setting it would change the host", key);
    }
    if (!ok)
      return fail(Code::kInvalidArgument, "linux.sysctl: {} needs {} of the sandbox's own", key,
                  needs);
    std::string path = "/proc/sys/" + key;
    for (std::size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    plan.child.sysctls.emplace_back(path, value);
  }
  return {};
}

}  // namespace

Result<Plan> plan_sandbox(const SandboxSpec& spec, const PlanContext& ctx) {
  SVC_TRY(validate_sandbox_id(ctx.id));
  Plan plan;
  ChildPlan& child = plan.child;
  SVC_TRY(plan_namespaces(spec, ctx, plan));
  SVC_TRY(plan_ids(spec, ctx, plan));
  SVC_TRY(plan_sysctls(spec, plan));

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
  plan.rootfs.idmap = spec.rootfs.idmap && plan.new_userns;
  plan.rootfs.staging = ctx.sandbox_dir / "rootfs";
  if (spec.rootfs.overlay) {
    plan.rootfs.upper = ctx.sandbox_dir / "upper";
    plan.rootfs.work = ctx.sandbox_dir / "work";
  }
  child.readonly_rootfs = spec.rootfs.readonly;
  if (spec.rootfs.propagation != 0) {
    unsigned long type = spec.rootfs.propagation & ~static_cast<unsigned long>(MS_REC);
    if (type != MS_SHARED && type != MS_SLAVE && type != MS_PRIVATE && type != MS_UNBINDABLE)
      return fail(Code::kInvalidArgument,
                  "rootfs propagation {:#x} is not one of shared, slave, "
                  "private or unbindable",
                  spec.rootfs.propagation);
    child.root_propagation = spec.rootfs.propagation;
  }

  // --- file systems, devices, masks
  SVC_TRY(detail::plan_mounts(spec, plan));

  // --- the process
  const ProcessSpec& proc = spec.process;
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
  child.no_new_privs = spec.no_new_privileges;
  if (spec.oom_score_adj && (*spec.oom_score_adj < -1000 || *spec.oom_score_adj > 1000))
    return fail(Code::kInvalidArgument, "process.oomScoreAdj {} is outside -1000..1000",
                *spec.oom_score_adj);
  plan.oom_score_adj = spec.oom_score_adj;

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

  plan.cgroup = spec.cgroup.empty() ? ctx.cgroup : spec.cgroup;
  plan.cgroup_given = !spec.cgroup.empty();
  plan.limits = spec.resources;
  if (plan.limits.pids < 0 || plan.limits.cpu_millis < 0)
    return fail(Code::kInvalidArgument, "resources: negative limits");
  return plan;
}

}  // namespace svc::isolation
