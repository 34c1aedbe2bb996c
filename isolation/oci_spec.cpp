#include "isolation/oci_spec.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <cctype>
#include <charconv>
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

// The file systems svc always sets up itself; a config's entries for them are skipped.
const std::set<std::string> kBuiltinMounts = {"/proc",       "/dev", "/dev/pts",      "/dev/shm",
                                              "/dev/mqueue", "/sys", "/sys/fs/cgroup"};

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

Result<std::vector<IdMapping>> mappings(const json& j, const char* field) {
  std::vector<IdMapping> out;
  if (j.is_null()) return out;
  for (const auto& m : j)
    out.push_back({m.at("containerID").get<std::uint32_t>(), m.at("hostID").get<std::uint32_t>(),
                   m.at("size").get<std::uint32_t>()});
  (void)field;
  return out;
}

Result<> parse_mount(const json& m, const fs::path& bundle, SandboxSpec& spec) {
  std::string dest = m.at("destination").get<std::string>();
  std::string norm = fs::path(dest).lexically_normal().string();
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
  if (kBuiltinMounts.count(norm)) return {};
  std::string type = m.value("type", std::string());
  auto options = SVC_TRY(strings(m.value("options", json()), "mounts[].options"));
  bool bind = type == "bind" || type == "rbind";
  for (const auto& o : options)
    if (o == "bind" || o == "rbind") bind = true;
  MountSpec out;
  out.target = dest;
  out.nosuid = out.nodev = out.noexec = false;
  std::string fs_options;
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
    else if (o == "bind" || o == "rbind" || o == "private" || o == "rprivate" || o == "slave" ||
             o == "rslave" || o == "shared" || o == "rshared" || o == "unbindable" ||
             o == "runbindable" || o == "relatime" || o == "norelatime" || o == "noatime" ||
             o == "atime" || o == "strictatime" || o == "nodiratime" || o == "diratime")
      continue;  // propagation is always private; atime flags are left to the file system
    else if (!bind)
      fs_options += (fs_options.empty() ? "" : ",") + o;
    else
      return fail(Code::kInvalidArgument, "mount {}: unknown option \"{}\"", dest, o);
  }
  if (bind) {
    out.type = MountSpec::Type::kBind;
    fs::path src = m.value("source", std::string());
    if (src.empty())
      return fail(Code::kInvalidArgument, "mount {}: a bind mount needs a source", dest);
    out.source = src.is_absolute() ? src : bundle / src;
    // runc: "rbind" (option or type) is recursive, plain "bind" is not.
    out.recursive =
        type == "rbind" || std::find(options.begin(), options.end(), "rbind") != options.end();
  } else if (type == "tmpfs") {
    out.type = MountSpec::Type::kTmpfs;
    out.tmpfs_options = fs_options;
  } else {
    return fail(Code::kUnimplemented, "mount {}: type \"{}\" is not supported (bind and tmpfs are)",
                dest, type);
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

Result<OciConfig> parse(const json& j, const fs::path& bundle) {
  OciConfig out;
  SandboxSpec& spec = out.spec;
  out.oci_version = j.value("ociVersion", std::string());
  if (!out.oci_version.starts_with("1."))
    return fail(Code::kInvalidArgument, "ociVersion \"{}\" is not a 1.x runtime spec",
                out.oci_version);
  if (j.contains("hooks") && !j["hooks"].empty())
    return fail(Code::kUnimplemented, "hooks are not supported");

  const json& p = j.at("process");
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

  const json& root = j.at("root");
  fs::path root_path = root.at("path").get<std::string>();
  spec.rootfs.lower = {root_path.is_absolute() ? root_path : bundle / root_path};
  spec.rootfs.overlay = false;
  spec.rootfs.readonly = root.value("readonly", false);
  spec.hostname = j.value("hostname", std::string());
  spec.annotations = j.value("annotations", std::map<std::string, std::string>());

  for (const auto& m : j.value("mounts", json::array())) SVC_TRY(parse_mount(m, bundle, spec));

  const json& linux = j.contains("linux") ? j["linux"] : json::object();
  NamespaceSet ns{false, false, false, false, false};
  bool userns = false;
  for (const auto& n : linux.value("namespaces", json::array())) {
    std::string type = n.at("type").get<std::string>();
    if (n.contains("path") && !n["path"].get<std::string>().empty())
      return fail(Code::kUnimplemented, "joining the {} namespace at a path is not supported",
                  type);
    if (type == "pid")
      ns.pid = true;
    else if (type == "network")
      ns.net = true;
    else if (type == "ipc")
      ns.ipc = true;
    else if (type == "uts")
      ns.uts = true;
    else if (type == "cgroup")
      ns.cgroup = true;
    else if (type == "user")
      userns = true;
    else if (type == "mount" || type == "time")
      continue;
    else
      return fail(Code::kInvalidArgument, "linux.namespaces: unknown type \"{}\"", type);
  }
  spec.namespaces = ns;
  spec.network = ns.net ? NetworkMode::kPrivate : NetworkMode::kHost;
  if (userns) {
    spec.uid_mappings = SVC_TRY(mappings(linux.value("uidMappings", json()), "uidMappings"));
    spec.gid_mappings = SVC_TRY(mappings(linux.value("gidMappings", json()), "gidMappings"));
  }
  if (linux.contains("resources")) {
    const json& r = linux["resources"];
    if (r.contains("memory") && r["memory"].contains("limit")) {
      std::int64_t limit = r["memory"]["limit"].get<std::int64_t>();
      spec.resources.memory_bytes = limit > 0 ? static_cast<std::uint64_t>(limit) : 0;
    }
    if (r.contains("cpu")) {
      std::int64_t quota = r["cpu"].value("quota", std::int64_t{0});
      std::uint64_t period = r["cpu"].value("period", std::uint64_t{100'000});
      if (quota > 0 && period > 0) {
        spec.resources.cpu_period_us = period;
        spec.resources.cpu_millis = quota * 1000 / static_cast<std::int64_t>(period);
      }
    }
    if (r.contains("pids") && r["pids"].contains("limit")) {
      std::int64_t limit = r["pids"]["limit"].get<std::int64_t>();
      spec.resources.pids = limit > 0 ? limit : 0;
    }
  }
  if (linux.contains("seccomp")) {
    // Docker-style profiles allow some syscalls only to holders of a capability ("includes":
    // {"caps": [...]}): judged against the sandbox's bounding set.
    spec.seccomp = SVC_TRY_CTX(
        seccomp::parse_oci_profile(linux["seccomp"].dump(),
                                   capability_names(spec.process.capabilities.bounding)),
        "linux.seccomp");
  } else
    spec.seccomp.reset();
  spec.masked_paths = SVC_TRY(strings(linux.value("maskedPaths", json()), "maskedPaths"));
  spec.readonly_paths = SVC_TRY(strings(linux.value("readonlyPaths", json()), "readonlyPaths"));
  return out;
}

json mount_json(const MountSpec& m) {
  std::vector<std::string> opts;
  if (m.type == MountSpec::Type::kBind) opts.push_back(m.recursive ? "rbind" : "bind");
  opts.push_back(m.readonly ? "ro" : "rw");
  if (m.nosuid) opts.push_back("nosuid");
  if (m.nodev) opts.push_back("nodev");
  if (m.noexec) opts.push_back("noexec");
  if (m.idmap) opts.push_back(m.recursive ? "ridmap" : "idmap");
  if (m.type == MountSpec::Type::kTmpfs && !m.tmpfs_options.empty()) {
    std::size_t pos = 0;
    while (pos <= m.tmpfs_options.size()) {
      auto comma = m.tmpfs_options.find(',', pos);
      if (comma == std::string::npos) comma = m.tmpfs_options.size();
      if (comma > pos) opts.push_back(m.tmpfs_options.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  json j = {{"destination", m.target},
            {"type", m.type == MountSpec::Type::kBind ? "bind" : "tmpfs"},
            {"options", opts}};
  j["source"] = m.type == MountSpec::Type::kBind ? m.source.string() : std::string("tmpfs");
  return j;
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
      {"noNewPrivileges", true},
  };
  if (!p.additional_gids.empty()) process["user"]["additionalGids"] = p.additional_gids;
  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
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
  for (const auto& m : spec.mounts) mounts.push_back(mount_json(m));
  json namespaces = json::array({{{"type", "user"}}, {{"type", "mount"}}});
  if (spec.namespaces.pid) namespaces.push_back({{"type", "pid"}});
  if (spec.namespaces.net) namespaces.push_back({{"type", "network"}});
  if (spec.namespaces.ipc) namespaces.push_back({{"type", "ipc"}});
  if (spec.namespaces.uts) namespaces.push_back({{"type", "uts"}});
  if (spec.namespaces.cgroup) namespaces.push_back({{"type", "cgroup"}});
  json resources = {{"pids", {{"limit", spec.resources.pids > 0 ? spec.resources.pids : -1}}}};
  if (spec.resources.memory_bytes > 0)
    resources["memory"] = {{"limit", spec.resources.memory_bytes},
                           {"swap", spec.resources.memory_bytes}};
  if (spec.resources.cpu_millis > 0)
    resources["cpu"] = {
        {"quota", spec.resources.cpu_millis *
                      static_cast<std::int64_t>(spec.resources.cpu_period_us) / 1000},
        {"period", spec.resources.cpu_period_us}};
  json linux = {{"namespaces", namespaces},
                {"resources", resources},
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
  if (spec.seccomp) linux["seccomp"] = json::parse(seccomp::to_oci_json(*spec.seccomp));
  json j = {{"ociVersion", kOciVersion},
            {"process", process},
            {"root", {{"path", root_path.string()}, {"readonly", spec.rootfs.readonly}}},
            {"hostname", spec.hostname.empty() ? std::string("svc") : spec.hostname},
            {"mounts", mounts},
            {"linux", linux}};
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
