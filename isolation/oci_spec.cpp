#include "isolation/oci_spec.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "isolation/capabilities.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Named {
  const char* name;
  int value;
};

constexpr std::array<Named, 16> kRlimits = {{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

constexpr std::array<Named, 31> kSignals = {{
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
}};

Result<std::vector<std::string>> strings(const json& j, const char* field) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return fail(Code::kInvalidArgument, "{}: expected an array of strings", field);
  for (const auto& e : j) {
    if (!e.is_string()) return fail(Code::kInvalidArgument, "{}: expected strings", field);
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::vector<IdMapping>> mappings(const json& j) {
  std::vector<IdMapping> out;
  if (j.is_null()) return out;
  for (const auto& m : j)
    out.push_back({m.at("containerID").get<std::uint32_t>(), m.at("hostID").get<std::uint32_t>(),
                   m.at("size").get<std::uint32_t>()});
  return out;
}

struct Propagation {
  const char* name;
  unsigned long flags;
};
constexpr std::array<Propagation, 8> kPropagation = {{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

std::optional<unsigned long> propagation_flags(std::string_view name) {
  for (const auto& p : kPropagation)
    if (name == p.name) return p.flags;
  return std::nullopt;
}

// A mount as runc reads it: the mount flags it knows become attributes, propagation and atime
// words are applied after the mount, anything else is the file system's data (and is ignored
// for bind mounts, which have none: "mode=755" on a bind is accepted, as runc and crun do).
Result<> parse_mount(const json& m, const fs::path& bundle, SandboxSpec& spec) {
  std::string dest = m.at("destination").get<std::string>();
  std::string type = m.value("type", std::string());
  std::string source = m.value("source", std::string());
  auto options = SVC_TRY(strings(m.value("options", json()), "mounts[].options"));
  bool bind = type == "bind" || type == "rbind";
  bool rbind = type == "rbind";
  for (const auto& o : options) {
    if (o == "bind") bind = true;
    if (o == "rbind") bind = rbind = true;
  }
  MountSpec out;
  out.target = dest;
  out.nosuid = out.nodev = out.noexec = false;
  std::string data;
  for (const auto& o : options) {
    if (o == "ro")
      out.readonly = true;
    else if (o == "rw")
      out.readonly = false;
    else if (o == "nosuid")
      out.nosuid = true;
    else if (o == "suid")
      out.nosuid = false;
    else if (o == "nodev")
      out.nodev = true;
    else if (o == "dev")
      out.nodev = false;
    else if (o == "noexec")
      out.noexec = true;
    else if (o == "exec")
      out.noexec = false;
    else if (o == "idmap" || o == "ridmap")
      out.idmap = true;
    else if (o == "bind" || o == "rbind")
      continue;
    else if (auto prop = propagation_flags(o))
      out.propagation = *prop;
    else if (o == "relatime")
      out.atime = (out.atime & MOUNT_ATTR_NODIRATIME) | MOUNT_ATTR_RELATIME;
    else if (o == "noatime")
      out.atime = (out.atime & MOUNT_ATTR_NODIRATIME) | MOUNT_ATTR_NOATIME;
    else if (o == "strictatime")
      out.atime = (out.atime & MOUNT_ATTR_NODIRATIME) | MOUNT_ATTR_STRICTATIME;
    else if (o == "nodiratime")
      out.atime |= MOUNT_ATTR_NODIRATIME;
    else if (o == "atime" || o == "norelatime" || o == "nostrictatime" || o == "diratime")
      continue;  // the defaults
    else if (o == "tmpcopyup" || o == "copy-symlink" || o == "nocopyup" || o == "notmpcopyup")
      continue;  // crun's and podman's extensions: nothing to copy into a fresh tmpfs here
    else if (!bind)
      data += (data.empty() ? "" : ",") + o;
    // else: data options on a bind mount mean nothing to the kernel; ignored like runc does
  }
  if (bind) {
    out.type = MountSpec::Type::kBind;
    if (source.empty())
      return fail(Code::kInvalidArgument, "mount {}: a bind mount needs a source", dest);
    fs::path src = source;
    out.source = src.is_absolute() ? src : bundle / src;
    out.recursive = rbind;  // runc: "rbind" (option or type) is recursive, plain "bind" is not
  } else {
    if (type.empty())
      return fail(Code::kInvalidArgument,
                  "mount {}: no type (give the file system type, or \"bind\" with a source)", dest);
    out.type = MountSpec::Type::kFilesystem;
    out.fs_type = type;
    out.fs_source = source;
    out.fs_options = data;
  }
  spec.mounts.push_back(out);
  return {};
}

Result<std::uint64_t> cap_set(const json& c, const char* name) {
  auto names = SVC_TRY(strings(c.value(name, json()), name));
  return capability_mask(names);
}

Result<CapabilitySets> parse_caps(const json& c) {
  CapabilitySets s;  // absent sets are empty, as the runtime spec says
  if (c.is_null()) return s;
  s.bounding = SVC_TRY(cap_set(c, "bounding"));
  s.effective = SVC_TRY(cap_set(c, "effective"));
  s.permitted = SVC_TRY(cap_set(c, "permitted"));
  s.inheritable = SVC_TRY(cap_set(c, "inheritable"));
  s.ambient = SVC_TRY(cap_set(c, "ambient"));
  return s;
}

Result<std::vector<OciHook>> parse_hooks(const json& hooks, const char* name) {
  std::vector<OciHook> out;
  if (!hooks.contains(name)) return out;
  for (const auto& h : hooks[name]) {
    OciHook hook;
    hook.path = h.at("path").get<std::string>();
    if (hook.path.empty() || hook.path[0] != '/')
      return fail(Code::kInvalidArgument, "hooks.{}: path \"{}\" is not absolute", name, hook.path);
    hook.args = SVC_TRY(strings(h.value("args", json()), "hooks[].args"));
    hook.env = SVC_TRY(strings(h.value("env", json()), "hooks[].env"));
    if (h.contains("timeout")) {
      int t = h["timeout"].get<int>();
      if (t <= 0)
        return fail(Code::kInvalidArgument, "hooks.{}: timeout {} is not positive", name, t);
      hook.timeout_seconds = t;
    }
    out.push_back(std::move(hook));
  }
  return out;
}

Result<> parse_process(const json& p, SandboxSpec& spec, OciConfig& out) {
  out.terminal = p.value("terminal", false);
  // The pty is made inside the sandbox; its master goes to --console-socket (svc-runtime).
  spec.terminal = out.terminal;
  if (p.contains("consoleSize") && p["consoleSize"].is_object()) {
    spec.console_rows = static_cast<std::uint16_t>(p["consoleSize"].value("height", 0u));
    spec.console_cols = static_cast<std::uint16_t>(p["consoleSize"].value("width", 0u));
  }
  spec.process.args = SVC_TRY(strings(p.value("args", json()), "process.args"));
  spec.process.env = SVC_TRY(strings(p.value("env", json()), "process.env"));
  spec.process.cwd = p.value("cwd", std::string("/"));
  if (p.contains("user")) {
    const json& u = p["user"];
    spec.process.uid = u.value("uid", 0u);
    spec.process.gid = u.value("gid", 0u);
    if (u.contains("additionalGids"))
      spec.process.additional_gids = u["additionalGids"].get<std::vector<std::uint32_t>>();
  }
  spec.process.capabilities = SVC_TRY(parse_caps(p.value("capabilities", json())));
  spec.process.rlimits.clear();
  for (const auto& r : p.value("rlimits", json::array())) {
    std::string type = r.at("type").get<std::string>();
    auto it = std::find_if(kRlimits.begin(), kRlimits.end(),
                           [&](const Named& n) { return type == n.name; });
    if (it == kRlimits.end())
      return fail(Code::kInvalidArgument, "rlimits: unknown type \"{}\"", type);
    spec.process.rlimits.push_back(
        {it->value, r.at("soft").get<std::uint64_t>(), r.at("hard").get<std::uint64_t>()});
  }
  // The runtime spec's default: no_new_privs only when asked for.
  spec.no_new_privileges = p.value("noNewPrivileges", false);
  if (p.contains("oomScoreAdj")) spec.oom_score_adj = p["oomScoreAdj"].get<int>();
  if (!p.value("apparmorProfile", std::string()).empty())
    return fail(Code::kUnimplemented,
                "process.apparmorProfile: svc-runtime does not apply AppArmor profiles; remove "
                "it (its confinement comes from seccomp, capabilities and namespaces)");
  if (!p.value("selinuxLabel", std::string()).empty())
    return fail(Code::kUnimplemented,
                "process.selinuxLabel: svc-runtime does not apply SELinux labels; remove it");
  return {};
}

Result<> parse_namespaces(const json& linux, SandboxSpec& spec, bool& userns) {
  NamespaceSet ns;
  ns.pid = ns.net = ns.ipc = ns.uts = ns.cgroup = ns.user = ns.mount = false;
  std::set<std::string> seen;
  for (const auto& n : linux.value("namespaces", json::array())) {
    std::string type = n.at("type").get<std::string>();
    if (!seen.insert(type).second)
      return fail(Code::kInvalidArgument, "linux.namespaces: \"{}\" is listed twice", type);
    std::string path = n.value("path", std::string());
    bool* make = type == "pid"       ? &ns.pid
                 : type == "network" ? &ns.net
                 : type == "ipc"     ? &ns.ipc
                 : type == "uts"     ? &ns.uts
                 : type == "cgroup"  ? &ns.cgroup
                 : type == "user"    ? &ns.user
                 : type == "mount"   ? &ns.mount
                                     : nullptr;
    if (type == "time")
      return fail(Code::kUnimplemented,
                  "linux.namespaces: time namespaces are not supported; remove the entry");
    if (!make) return fail(Code::kInvalidArgument, "linux.namespaces: unknown type \"{}\"", type);
    if (path.empty())
      *make = true;
    else
      ns.join[type] = path;
  }
  userns = ns.user || ns.join.count("user");
  spec.namespaces = ns;
  // A new network namespace gets loopback up (runc's "loopback" network); a joined or the
  // runtime's one is left as it is.
  spec.network = ns.net ? NetworkMode::kPrivate : NetworkMode::kHost;
  return {};
}

Result<> parse_devices(const json& linux, SandboxSpec& spec) {
  for (const auto& d : linux.value("devices", json::array())) {
    DeviceSpec dev;
    dev.path = d.at("path").get<std::string>();
    std::string type = d.at("type").get<std::string>();
    if (type.size() != 1)
      return fail(Code::kInvalidArgument, "linux.devices {}: type \"{}\" is not c, b, u or p",
                  dev.path, type);
    dev.type = type[0];
    dev.major = d.value("major", 0u);
    dev.minor = d.value("minor", 0u);
    dev.mode = d.value("fileMode", 0666u);
    dev.uid = d.value("uid", 0u);
    dev.gid = d.value("gid", 0u);
    spec.devices.push_back(dev);
  }
  return {};
}

// Any key with a value that is not null, false, 0 or empty: asked for.
bool asks(const json& j) {
  if (j.is_null()) return false;
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number()) return j.get<double>() != 0;
  if (j.is_string() || j.is_array()) return !j.empty();
  if (j.is_object()) {
    for (const auto& [k, v] : j.items())
      if (asks(v)) return true;
    return false;
  }
  return true;
}

Result<> parse_resources(const json& r, SandboxSpec& spec) {
  CgroupLimits& l = spec.resources;
  l.pids = 0;  // the bundle's limits only (svc's default of 1024 is in `svc-runtime spec`)
  for (const char* unsupported : {"blockIO", "hugepageLimits", "network", "rdma", "unified"})
    if (r.contains(unsupported) && asks(r[unsupported]))
      return fail(Code::kUnimplemented,
                  "linux.resources.{} is not supported by svc-runtime (cpu, memory, pids and "
                  "devices are); remove it",
                  unsupported);
  if (r.contains("memory")) {
    const json& m = r["memory"];
    auto i64 = [&](const char* k) { return m.contains(k) ? m[k].get<std::int64_t>() : 0; };
    std::int64_t limit = i64("limit");
    l.memory_bytes = limit > 0 ? static_cast<std::uint64_t>(limit) : 0;
    std::int64_t reservation = i64("reservation");
    l.memory_reservation_bytes = reservation > 0 ? static_cast<std::uint64_t>(reservation) : 0;
    l.memory_swap_bytes = i64("swap");
    if (m.contains("swappiness")) {
      std::int64_t sw = m["swappiness"].get<std::int64_t>();
      if (sw < 0 || sw > 100)
        return fail(Code::kInvalidArgument, "linux.resources.memory.swappiness {} is not 0-100",
                    sw);
      l.memory_swappiness = static_cast<int>(sw);
    }
    l.memory_oom_kill_disable = m.value("disableOOMKiller", false);
    // "kernel" and "kernelTCP" are deprecated by the runtime spec and gone from Linux 6.x's
    // memory controller: accepted and not applied.
  }
  if (r.contains("cpu")) {
    const json& c = r["cpu"];
    std::int64_t quota = c.value("quota", std::int64_t{0});
    std::uint64_t period = c.value("period", std::uint64_t{0});
    if (quota > 0) {
      if (period == 0) period = 100'000;
      l.cpu_period_us = period;
      // svc's limits are in thousandths of a CPU: a quota that is not a whole number of them
      // is rounded down (by less than a thousandth of a CPU).
      l.cpu_millis = quota * 1000 / static_cast<std::int64_t>(period);
    } else if (period > 0) {
      l.cpu_period_us = period;
    }
    l.cpu_shares = c.value("shares", std::uint64_t{0});
    l.cpu_rt_runtime_us = c.value("realtimeRuntime", std::int64_t{0});
    l.cpu_rt_period_us = c.value("realtimePeriod", std::uint64_t{0});
    l.cpuset_cpus = c.value("cpus", std::string());
    l.cpuset_mems = c.value("mems", std::string());
  }
  if (r.contains("pids") && r["pids"].contains("limit")) {
    std::int64_t limit = r["pids"]["limit"].get<std::int64_t>();
    l.pids = limit > 0 ? limit : 0;
  }
  for (const auto& d : r.value("devices", json::array())) {
    DeviceRule rule;
    rule.allow = d.value("allow", false);
    std::string type = d.value("type", std::string("a"));
    if (type != "a" && type != "c" && type != "b")
      return fail(Code::kInvalidArgument, "linux.resources.devices: type \"{}\" is not a, c or b",
                  type);
    rule.type = type[0];
    rule.major = d.contains("major") && !d["major"].is_null() ? d["major"].get<std::int64_t>() : -1;
    rule.minor = d.contains("minor") && !d["minor"].is_null() ? d["minor"].get<std::int64_t>() : -1;
    rule.access = d.value("access", std::string("rwm"));
    if (rule.access.empty() || rule.access.find_first_not_of("rwm") != std::string::npos)
      return fail(Code::kInvalidArgument,
                  "linux.resources.devices: access \"{}\" is not made of r, w and m", rule.access);
    l.devices.push_back(rule);
  }
  if (!l.devices.empty()) {
    // What every container needs, after the bundle's rules, as runc appends them
    // (libcontainer/specconv AllowedDevices): mknod of anything, and the standard nodes.
    const DeviceRule kAllowed[] = {
        {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},   {true, 'c', 1, 3, "rwm"},
        {true, 'c', 1, 8, "rwm"}, {true, 'c', 1, 7, "rwm"},   {true, 'c', 5, 0, "rwm"},
        {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 9, "rwm"},   {true, 'c', 136, -1, "rwm"},
        {true, 'c', 5, 2, "rwm"}, {true, 'c', 10, 200, "rwm"}};
    l.devices.insert(l.devices.end(), std::begin(kAllowed), std::end(kAllowed));
  }
  return {};
}

Result<> parse_linux(const json& linux, const fs::path& bundle, SandboxSpec& spec, OciConfig& out) {
  (void)bundle;
  bool userns = false;
  SVC_TRY(parse_namespaces(linux, spec, userns));
  if (userns) {
    spec.uid_mappings = SVC_TRY(mappings(linux.value("uidMappings", json())));
    spec.gid_mappings = SVC_TRY(mappings(linux.value("gidMappings", json())));
  } else if (asks(linux.value("uidMappings", json())) || asks(linux.value("gidMappings", json()))) {
    return fail(Code::kInvalidArgument,
                "linux.uidMappings need a user namespace (add {{\"type\": \"user\"}} to "
                "linux.namespaces)");
  }
  // Mappings the bundle gives come with a rootfs its maker prepared for them (chowned, or
  // idmapped by podman): shown as it is. Without mappings svc picks a private range and idmaps
  // the root so that its files keep their owners inside.
  spec.rootfs.idmap = spec.uid_mappings.empty();
  SVC_TRY(parse_devices(linux, spec));
  spec.resources = CgroupLimits{};
  spec.resources.pids = 0;
  if (linux.contains("resources")) SVC_TRY(parse_resources(linux["resources"], spec));
  out.cgroups_path = linux.value("cgroupsPath", std::string());
  spec.sysctl = linux.value("sysctl", std::map<std::string, std::string>());
  if (linux.contains("rootfsPropagation")) {
    std::string prop = linux["rootfsPropagation"].get<std::string>();
    auto flags = propagation_flags(prop);
    if (!flags)
      return fail(Code::kInvalidArgument,
                  "linux.rootfsPropagation \"{}\" is not (r)shared, (r)slave, (r)private or "
                  "(r)unbindable",
                  prop);
    // runc and crun apply it to the whole tree.
    spec.rootfs.propagation = *flags | MS_REC;
  }
  spec.masked_paths = SVC_TRY(strings(linux.value("maskedPaths", json()), "maskedPaths"));
  spec.readonly_paths = SVC_TRY(strings(linux.value("readonlyPaths", json()), "readonlyPaths"));
  for (const char* unsupported : {"intelRdt", "personality", "timeOffsets"})
    if (linux.contains(unsupported) && asks(linux[unsupported]))
      return fail(Code::kUnimplemented, "linux.{} is not supported by svc-runtime; remove it",
                  unsupported);
  // linux.mountLabel is SELinux's, which svc-runtime does not do: without SELinux on the host
  // (the only place svc-runtime runs) a label means nothing, so it is accepted unapplied.
  if (linux.contains("seccomp")) {
    // Docker-style profiles allow some syscalls only to holders of a capability ("includes":
    // {"caps": [...]}): judged against the sandbox's bounding set.
    spec.seccomp = SVC_TRY_CTX(
        seccomp::parse_oci_profile(linux["seccomp"].dump(),
                                   capability_names(spec.process.capabilities.bounding)),
        "linux.seccomp");
  } else {
    spec.seccomp.reset();
  }
  return {};
}

Result<OciConfig> parse(const json& j, const fs::path& bundle) {
  OciConfig out;
  SandboxSpec& spec = out.spec;
  out.oci_version = j.value("ociVersion", std::string());
  if (!out.oci_version.starts_with("1."))
    return fail(Code::kInvalidArgument, "ociVersion \"{}\" is not a 1.x runtime spec",
                out.oci_version);
  // What the bundle says, nothing of svc's own.
  spec.system_mounts = false;
  spec.masked_paths.clear();
  spec.readonly_paths.clear();
  if (j.contains("hooks")) {
    const json& h = j["hooks"];
    for (const char* inside : {"createContainer", "startContainer"})
      if (h.contains(inside) && !h[inside].empty())
        return fail(Code::kUnimplemented,
                    "hooks.{} (run inside the container) are not supported; prestart, "
                    "createRuntime, poststart and poststop are",
                    inside);
    out.hooks.prestart = SVC_TRY(parse_hooks(h, "prestart"));
    out.hooks.create_runtime = SVC_TRY(parse_hooks(h, "createRuntime"));
    out.hooks.poststart = SVC_TRY(parse_hooks(h, "poststart"));
    out.hooks.poststop = SVC_TRY(parse_hooks(h, "poststop"));
  }
  if (!j.contains("process"))
    return fail(Code::kInvalidArgument, "config.json has no \"process\" to run");
  SVC_TRY(parse_process(j["process"], spec, out));

  if (!j.contains("root") || !j["root"].contains("path"))
    return fail(Code::kInvalidArgument, "config.json has no root.path");
  const json& root = j["root"];
  fs::path root_path = root.at("path").get<std::string>();
  spec.rootfs.lower = {root_path.is_absolute() ? root_path : bundle / root_path};
  spec.rootfs.overlay = false;
  spec.rootfs.readonly = root.value("readonly", false);
  spec.hostname = j.value("hostname", std::string());
  if (!j.value("domainname", std::string()).empty())
    return fail(Code::kUnimplemented, "domainname is not supported by svc-runtime; remove it");
  spec.annotations = j.value("annotations", std::map<std::string, std::string>());

  for (const auto& m : j.value("mounts", json::array())) SVC_TRY(parse_mount(m, bundle, spec));
  SVC_TRY(parse_linux(j.contains("linux") ? j["linux"] : json::object(), bundle, spec, out));
  return out;
}

void add_split(std::vector<std::string>& opts, const std::string& text) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    if (comma > pos) opts.push_back(text.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

json mount_json(const MountSpec& m) {
  std::vector<std::string> opts;
  if (m.type == MountSpec::Type::kBind) opts.push_back(m.recursive ? "rbind" : "bind");
  opts.push_back(m.readonly ? "ro" : "rw");
  if (m.nosuid) opts.push_back("nosuid");
  if (m.nodev) opts.push_back("nodev");
  if (m.noexec) opts.push_back("noexec");
  if (m.idmap) opts.push_back(m.recursive ? "ridmap" : "idmap");
  switch (m.atime & MOUNT_ATTR__ATIME) {
    case MOUNT_ATTR_NOATIME:
      opts.push_back("noatime");
      break;
    case MOUNT_ATTR_STRICTATIME:
      opts.push_back("strictatime");
      break;
    default:
      if (m.atime & MOUNT_ATTR_RELATIME) opts.push_back("relatime");
  }
  if (m.atime & MOUNT_ATTR_NODIRATIME) opts.push_back("nodiratime");
  for (const auto& p : kPropagation)
    if (m.propagation != 0 && m.propagation == p.flags) opts.push_back(p.name);
  json j;
  switch (m.type) {
    case MountSpec::Type::kBind:
      j = {{"destination", m.target}, {"type", "bind"}, {"source", m.source.string()}};
      break;
    case MountSpec::Type::kTmpfs:
      add_split(opts, m.tmpfs_options);
      j = {{"destination", m.target}, {"type", "tmpfs"}, {"source", "tmpfs"}};
      break;
    case MountSpec::Type::kFilesystem:
      add_split(opts, m.fs_options);
      j = {{"destination", m.target}, {"type", m.fs_type}, {"source", m.fs_source}};
      break;
  }
  j["options"] = opts;
  return j;
}

// svc's own file systems (SandboxSpec::system_mounts), as a bundle lists them.
json system_mounts_json() {
  return json::array({
      {{"destination", "/proc"},
       {"type", "proc"},
       {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "noexec", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
  });
}

json resources_json(const CgroupLimits& r) {
  json resources = {{"pids", {{"limit", r.pids > 0 ? r.pids : -1}}}};
  json memory = json::object();
  if (r.memory_bytes > 0) {
    memory["limit"] = r.memory_bytes;
    memory["swap"] =
        r.memory_swap_bytes != 0 ? r.memory_swap_bytes : static_cast<std::int64_t>(r.memory_bytes);
  }
  if (r.memory_reservation_bytes > 0) memory["reservation"] = r.memory_reservation_bytes;
  if (r.memory_swappiness >= 0) memory["swappiness"] = r.memory_swappiness;
  if (r.memory_oom_kill_disable) memory["disableOOMKiller"] = true;
  if (!memory.empty()) resources["memory"] = memory;
  json cpu = json::object();
  if (r.cpu_millis > 0) {
    cpu["quota"] = r.cpu_millis * static_cast<std::int64_t>(r.cpu_period_us) / 1000;
    cpu["period"] = r.cpu_period_us;
  }
  if (r.cpu_shares > 0) cpu["shares"] = r.cpu_shares;
  if (r.cpu_rt_runtime_us != 0) cpu["realtimeRuntime"] = r.cpu_rt_runtime_us;
  if (r.cpu_rt_period_us != 0) cpu["realtimePeriod"] = r.cpu_rt_period_us;
  if (!r.cpuset_cpus.empty()) cpu["cpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) cpu["mems"] = r.cpuset_mems;
  if (!cpu.empty()) resources["cpu"] = cpu;
  if (!r.devices.empty()) {
    json devices = json::array();
    for (const auto& d : r.devices) {
      json e = {{"allow", d.allow}, {"type", std::string(1, d.type)}, {"access", d.access}};
      if (d.major >= 0) e["major"] = d.major;
      if (d.minor >= 0) e["minor"] = d.minor;
      devices.push_back(e);
    }
    resources["devices"] = devices;
  }
  return resources;
}

json namespaces_json(const NamespaceSet& ns) {
  json out = json::array();
  auto add = [&](bool make, const char* type) {
    if (auto it = ns.join.find(type); it != ns.join.end())
      out.push_back({{"type", type}, {"path", it->second}});
    else if (make)
      out.push_back({{"type", type}});
  };
  add(ns.user, "user");
  add(ns.mount, "mount");
  add(ns.pid, "pid");
  add(ns.net, "network");
  add(ns.ipc, "ipc");
  add(ns.uts, "uts");
  add(ns.cgroup, "cgroup");
  return out;
}

}  // namespace

Result<OciConfig> parse_oci_config(std::string_view text, const fs::path& bundle) {
  try {
    return parse(json::parse(text), bundle);
  } catch (const json::exception& e) {
    return fail(Code::kInvalidArgument, "config.json: {}", e.what());
  }
}

Result<OciConfig> load_oci_bundle(const fs::path& bundle) {
  auto text = SVC_TRY_CTX(read_file(bundle / "config.json"), "bundle {}", bundle.string());
  return SVC_TRY_CTX(parse_oci_config(text, bundle), "bundle {}", bundle.string());
}

std::string to_oci_config(const SandboxSpec& spec, const fs::path& root_path) {
  const ProcessSpec& p = spec.process;
  json rlimits = json::array();
  for (const auto& r : p.rlimits) {
    auto it = std::find_if(kRlimits.begin(), kRlimits.end(),
                           [&](const Named& n) { return n.value == r.resource; });
    if (it != kRlimits.end())
      rlimits.push_back({{"type", it->name}, {"hard", r.hard}, {"soft", r.soft}});
  }
  json process = {
      {"terminal", false},
      {"user", {{"uid", p.uid}, {"gid", p.gid}}},
      {"args", p.args},
      {"env", p.env},
      {"cwd", p.cwd},
      {"capabilities",
       {{"bounding", capability_names(p.capabilities.bounding)},
        {"effective", capability_names(p.capabilities.effective)},
        {"permitted", capability_names(p.capabilities.permitted)},
        {"inheritable", capability_names(p.capabilities.inheritable)},
        {"ambient", capability_names(p.capabilities.ambient)}}},
      {"rlimits", rlimits},
      {"noNewPrivileges", spec.no_new_privileges},
  };
  if (!p.additional_gids.empty()) process["user"]["additionalGids"] = p.additional_gids;
  if (spec.oom_score_adj) process["oomScoreAdj"] = *spec.oom_score_adj;
  json mounts = spec.system_mounts ? system_mounts_json() : json::array();
  for (const auto& m : spec.mounts) mounts.push_back(mount_json(m));
  json linux = {{"namespaces", namespaces_json(spec.namespaces)},
                {"resources", resources_json(spec.resources)},
                {"maskedPaths", spec.masked_paths},
                {"readonlyPaths", spec.readonly_paths}};
  auto map_json = [](const std::vector<IdMapping>& v) {
    json a = json::array();
    for (const auto& m : v)
      a.push_back({{"containerID", m.inside}, {"hostID", m.host}, {"size", m.size}});
    return a;
  };
  if (!spec.uid_mappings.empty()) {
    linux["uidMappings"] = map_json(spec.uid_mappings);
    linux["gidMappings"] = map_json(spec.gid_mappings);
  }
  if (!spec.devices.empty()) {
    json devices = json::array();
    for (const auto& d : spec.devices)
      devices.push_back({{"path", d.path},
                         {"type", std::string(1, d.type)},
                         {"major", d.major},
                         {"minor", d.minor},
                         {"fileMode", d.mode},
                         {"uid", d.uid},
                         {"gid", d.gid}});
    linux["devices"] = devices;
  }
  if (!spec.sysctl.empty()) linux["sysctl"] = spec.sysctl;
  for (const auto& prop : kPropagation)
    if (spec.rootfs.propagation != 0 && spec.rootfs.propagation == prop.flags)
      linux["rootfsPropagation"] = prop.name;
  if (spec.seccomp) linux["seccomp"] = json::parse(seccomp::to_oci_json(*spec.seccomp));
  json j = {{"ociVersion", kOciVersion},
            {"process", process},
            {"root", {{"path", root_path.string()}, {"readonly", spec.rootfs.readonly}}},
            {"mounts", mounts},
            {"linux", linux}};
  const bool own_uts = spec.namespaces.uts || spec.namespaces.join.count("uts");
  if (own_uts) j["hostname"] = spec.hostname.empty() ? std::string("svc") : spec.hostname;
  if (!spec.annotations.empty()) j["annotations"] = spec.annotations;
  return j.dump(2) + "\n";
}

std::string default_oci_config() {
  SandboxSpec spec;
  spec.process.args = {"sh"};
  spec.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "TERM=xterm"};
  spec.process.rlimits = default_rlimits();
  spec.hostname = "svc";
  return to_oci_config(spec, "rootfs");
}

int signal_from_name(std::string_view name) {
  int n = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (ec == std::errc() && p == name.data() + name.size()) return n > 0 && n < 65 ? n : 0;
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view u = upper;
  if (u.starts_with("SIG")) u.remove_prefix(3);
  for (const auto& s : kSignals)
    if (u == s.name) return s.value;
  if (u.starts_with("RTMIN+")) {
    int k = -1;
    auto rest = u.substr(6);
    auto [end, err] = std::from_chars(rest.data(), rest.data() + rest.size(), k);
    if (err == std::errc() && end == rest.data() + rest.size() && k >= 0 &&
        SIGRTMIN + k <= SIGRTMAX)
      return SIGRTMIN + k;
  }
  return 0;
}

std::string signal_name(int sig) {
  for (const auto& s : kSignals)
    if (s.value == sig) return std::string("SIG") + s.name;
  return std::to_string(sig);
}

}  // namespace svc::isolation
