#include "isolation/host_probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

std::string read_small(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// Runs fn in a forked child. fn returns 0 for "usable" or an errno-like code, and may write a
// message (at most 512 bytes) to msg. The child does only syscalls and snprintf.
FeatureProbe run_in_child(const std::function<int(char* msg, std::size_t len)>& fn) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return {false, fmt::format("probe: pipe: {}", std::strerror(errno))};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return {false, fmt::format("probe: fork: {}", std::strerror(errno))};
  }
  if (pid == 0) {
    ::close(pipefd[0]);
    char msg[512] = {0};
    int rc = fn(msg, sizeof msg);
    ssize_t ignored = ::write(pipefd[1], msg, std::strlen(msg));
    (void)ignored;
    ::_exit(rc == 0 ? 0 : 1);
  }
  ::close(pipefd[1]);
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return {ok, msg};
}

#define PROBE_FAIL(...)                   \
  do {                                    \
    std::snprintf(msg, len, __VA_ARGS__); \
    return 1;                             \
  } while (0)

}  // namespace

std::string oci_architecture(std::string_view m) {
  if (m == "x86_64") return "amd64";
  if (m == "aarch64" || m == "arm64") return "arm64";
  if (m == "i386" || m == "i686") return "386";
  if (m.starts_with("armv7") || m.starts_with("armv6") || m == "arm") return "arm";
  if (m == "ppc64le") return "ppc64le";
  if (m == "s390x") return "s390x";
  if (m == "riscv64") return "riscv64";
  return std::string(m);
}

std::uint64_t read_mem_total(const ProbeRoots& roots) {
  std::istringstream in(read_small(roots.proc / "meminfo"));
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb * 1024;
  }
  return 0;
}

namespace {
bool has_option(const std::string& options, std::string_view name) {
  std::istringstream opts(options);
  std::string opt;
  while (std::getline(opts, opt, ','))
    if (opt == name) return true;
  return false;
}
}  // namespace

CgroupLayout probe_cgroups(const ProbeRoots& roots) {
  CgroupLayout layout;
  layout.root = roots.sys / "fs/cgroup";
  // mountinfo(5): "... mountpoint options - fstype source superoptions".
  std::istringstream mounts(read_small(roots.proc / "self/mountinfo"));
  std::string line;
  std::set<std::string> v1_controllers;
  bool have_v1 = false;
  bool have_v2 = false;
  while (std::getline(mounts, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mountpoint, options, field;
    f >> id >> parent >> devno >> root >> mountpoint >> options;
    while (f >> field && field != "-") {
    }
    std::string fstype, source, super;
    f >> fstype >> source >> super;
    if (fstype == "cgroup" || fstype == "cgroup2")
      layout.favordynmods = layout.favordynmods || has_option(super, "favordynmods");
    if (fstype == "cgroup2") {
      have_v2 = true;
      if (layout.unified.empty() || mountpoint == layout.root.string()) layout.unified = mountpoint;
    } else if (fstype == "cgroup") {
      std::istringstream opts(super);
      std::string opt;
      bool real = false;
      while (std::getline(opts, opt, ',')) {
        if (opt == "rw" || opt == "ro" || opt.starts_with("name=") || opt == "xattr" ||
            opt.starts_with("release_agent") || opt == "clone_children" || opt == "noprefix" ||
            opt == "nsdelegate" || opt == "cpuset_v2_mode" || opt == "favordynmods")
          continue;
        v1_controllers.insert(opt);
        real = true;
      }
      have_v1 = have_v1 || real;
    }
  }
  if (have_v2) {
    // cgroup(7): the cgroup2 hierarchy's line is "0::PATH".
    std::istringstream own(read_small(roots.proc / "self/cgroup"));
    while (std::getline(own, line))
      if (line.starts_with("0::")) layout.own_v2_cgroup = line.size() > 3 && line.substr(3) != "/";
  }
  {
    std::istringstream features(read_small(roots.sys / "kernel/cgroup/features"));
    std::string feature;
    while (features >> feature) layout.favordynmods_supported |= feature == "favordynmods";
  }
  // /proc/cgroups lists the controllers the kernel has and whether they are enabled.
  std::set<std::string> enabled;
  std::istringstream pc(read_small(roots.proc / "cgroups"));
  while (std::getline(pc, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string name;
    int hier = 0, num = 0, en = 0;
    if (f >> name >> hier >> num >> en && en) enabled.insert(name);
  }
  for (const auto& c : v1_controllers)
    layout.controllers.push_back({c, "v1", enabled.empty() || enabled.count(c) > 0});
  if (have_v2) {
    std::istringstream v2(read_small(fs::path(layout.unified) / "cgroup.controllers"));
    std::string c;
    while (v2 >> c)
      if (!v1_controllers.count(c)) layout.controllers.push_back({c, "v2", true});
  }
  if (have_v1 && have_v2)
    layout.mode = CgroupMode::kHybrid;
  else if (have_v1)
    layout.mode = CgroupMode::kV1;
  else if (have_v2)
    layout.mode = CgroupMode::kV2;
  // The driver: v2 when the unified hierarchy holds the controllers svc needs, else v1.
  auto has = [&](std::string_view name, std::string_view version) {
    for (const auto& c : layout.controllers)
      if (c.name == name && c.version == version && c.usable) return true;
    return false;
  };
  if (has("memory", "v2") && has("pids", "v2") && has("cpu", "v2"))
    layout.driver = "v2";
  else if (has("memory", "v1") && has("pids", "v1") && (has("cpu", "v1")))
    layout.driver = "v1";
  return layout;
}

KvmProbe probe_kvm(const ProbeRoots& roots) {
  KvmProbe k;
  std::error_code ec;
  k.device_present = fs::exists(roots.dev / "kvm", ec);
  for (const char* name : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (fs::exists(roots.sys / "module" / name, ec)) {
      k.flavour = name;
      break;
    }
  }
  if (!k.device_present) {
    k.detail = "/dev/kvm does not exist";
  } else if (k.flavour == "kvm_pvm") {
    k.detail =
        "/dev/kvm is backed by kvm_pvm (no hardware virtualisation): KVM_CREATE_VM succeeds, but "
        "ordinary guest kernels hang in early boot; only PVM-enabled guest kernels run";
  } else if (k.flavour.empty()) {
    k.detail = "/dev/kvm exists but no kvm_intel, kvm_amd or kvm_pvm module is loaded";
  } else {
    int fd = ::open((roots.dev / "kvm").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      k.detail = fmt::format("/dev/kvm ({}): open: {}", k.flavour, std::strerror(errno));
    } else {
      ::close(fd);
      k.usable_for_vms = true;
      k.detail = fmt::format("/dev/kvm backed by {} (hardware virtualisation)", k.flavour);
    }
  }
  return k;
}

FeatureProbe probe_user_namespaces(const ProbeRoots& roots) {
  std::string max = trim(read_small(roots.proc / "sys/user/max_user_namespaces"));
  if (max == "0") return {false, "user.max_user_namespaces is 0"};
  FeatureProbe p = run_in_child([](char* msg, std::size_t len) -> int {
    if (::unshare(CLONE_NEWUSER) != 0)
      PROBE_FAIL("unshare(CLONE_NEWUSER): %s", std::strerror(errno));
    std::snprintf(msg, len, "unshare(CLONE_NEWUSER) succeeded");
    return 0;
  });
  if (p.usable && !max.empty()) p.detail += fmt::format("; user.max_user_namespaces = {}", max);
  return p;
}

FeatureProbe probe_overlayfs(const fs::path& scratch) {
  std::error_code ec;
  fs::path base = scratch / "probe-overlay";
  fs::remove_all(base, ec);
  for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directories(base / d, ec);
  std::string lower = (base / "lower").string(), upper = (base / "upper").string(),
              work = (base / "work").string(), merged = (base / "merged").string();
  std::string opts = fmt::format("lowerdir={},upperdir={},workdir={}", lower, upper, work);
  FeatureProbe p = run_in_child([&](char* msg, std::size_t len) -> int {
    if (::unshare(CLONE_NEWNS) != 0) PROBE_FAIL("unshare(CLONE_NEWNS): %s", std::strerror(errno));
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      PROBE_FAIL("make mounts private: %s", std::strerror(errno));
    if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) != 0)
      PROBE_FAIL("mount overlay on %s: %s", merged.c_str(), std::strerror(errno));
    std::snprintf(msg, len, "mounted an overlay on %s", scratch.c_str());
    return 0;
  });
  fs::remove_all(base, ec);
  return p;
}

FeatureProbe probe_seccomp() {
  return run_in_child([](char* msg, std::size_t len) -> int {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      PROBE_FAIL("prctl(PR_SET_NO_NEW_PRIVS): %s", std::strerror(errno));
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) PROBE_FAIL("seccomp_init failed");
    // A filter that refuses getpgid with EPERM; then check the kernel really applies it.
    if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(getpgid), 0) != 0)
      PROBE_FAIL("seccomp_rule_add failed");
    int rc = seccomp_load(ctx);
    if (rc != 0) PROBE_FAIL("seccomp_load: %s", std::strerror(-rc));
    errno = 0;
    if (::getpgid(0) != -1 || errno != EPERM) PROBE_FAIL("a loaded filter was not applied");
    std::snprintf(msg, len, "loaded a BPF filter (libseccomp %u.%u.%u) and saw it applied",
                  seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro);
    return 0;
  });
}

FeatureProbe probe_idmapped_mounts(const fs::path& scratch) {
  std::error_code ec;
  fs::path base = scratch / "probe-idmap";
  fs::remove_all(base, ec);
  fs::create_directories(base / "src", ec);
  fs::create_directories(base / "dst", ec);
  { std::ofstream(base / "src/file") << "x"; }
  std::string src = (base / "src").string(), dst = (base / "dst").string(),
              file = (base / "dst/file").string();
  constexpr unsigned kHostBase = 1'000'000'000;  // a uid far from any real user
  FeatureProbe p = run_in_child([&](char* msg, std::size_t len) -> int {
    if (::unshare(CLONE_NEWNS) != 0) PROBE_FAIL("unshare(CLONE_NEWNS): %s", std::strerror(errno));
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      PROBE_FAIL("make mounts private: %s", std::strerror(errno));
    // A user namespace to map through: a grandchild that unshares and waits.
    int sync[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) PROBE_FAIL("pipe: %s", std::strerror(errno));
    pid_t holder = ::fork();
    if (holder < 0) PROBE_FAIL("fork: %s", std::strerror(errno));
    if (holder == 0) {
      ::close(sync[1]);
      if (::unshare(CLONE_NEWUSER) != 0) ::_exit(1);
      char c;
      ssize_t ignored = ::read(sync[0], &c, 1);  // until the parent closes its end
      (void)ignored;
      ::_exit(0);
    }
    ::close(sync[0]);
    int result = 1;
    char path[64];
    for (int attempt = 0; attempt < 1000; ++attempt) {
      // Wait until the holder has unshared: its user ns differs from ours.
      struct stat a {
      }, b{};
      std::snprintf(path, sizeof path, "/proc/%d/ns/user", holder);
      if (::stat(path, &a) == 0 && ::stat("/proc/self/ns/user", &b) == 0 && a.st_ino != b.st_ino)
        break;
      ::usleep(1000);
    }
    auto write_map = [&](const char* which) {
      char map_path[64], line[64];
      std::snprintf(map_path, sizeof map_path, "/proc/%d/%s", holder, which);
      std::snprintf(line, sizeof line, "0 %u 65536\n", kHostBase);
      int fd = ::open(map_path, O_WRONLY | O_CLOEXEC);
      if (fd < 0) return false;
      bool ok = ::write(fd, line, std::strlen(line)) == static_cast<ssize_t>(std::strlen(line));
      ::close(fd);
      return ok;
    };
    do {
      if (!write_map("uid_map") || !write_map("gid_map")) {
        std::snprintf(msg, len, "write uid_map/gid_map: %s", std::strerror(errno));
        break;
      }
      int userns = ::open(path, O_RDONLY | O_CLOEXEC);
      if (userns < 0) {
        std::snprintf(msg, len, "open %s: %s", path, std::strerror(errno));
        break;
      }
      int tree = ::open_tree(AT_FDCWD, src.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (tree < 0) {
        std::snprintf(msg, len, "open_tree: %s", std::strerror(errno));
        break;
      }
      struct mount_attr attr {};
      attr.attr_set = MOUNT_ATTR_IDMAP;
      attr.userns_fd = static_cast<__u64>(userns);
      if (::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
        std::snprintf(msg, len, "mount_setattr(MOUNT_ATTR_IDMAP) on %s: %s", src.c_str(),
                      std::strerror(errno));
        break;
      }
      if (::move_mount(tree, "", AT_FDCWD, dst.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        std::snprintf(msg, len, "move_mount: %s", std::strerror(errno));
        break;
      }
      struct stat st {};
      if (::stat(file.c_str(), &st) != 0 || st.st_uid != kHostBase) {
        std::snprintf(msg, len, "an idmapped mount did not show the mapped owner");
        break;
      }
      std::snprintf(msg, len, "idmapped a mount of %s through a user namespace", src.c_str());
      result = 0;
    } while (false);
    ::close(sync[1]);
    int status;
    ::waitpid(holder, &status, 0);
    return result;
  });
  fs::remove_all(base, ec);
  return p;
}

HostFacts probe_host(const fs::path& scratch, const ProbeRoots& roots) {
  HostFacts h;
  struct utsname u {};
  if (::uname(&u) == 0) {
    h.hostname = u.nodename;
    h.kernel = u.release;
    h.architecture = oci_architecture(u.machine);
  }
  std::istringstream os(read_small(roots.etc / "os-release"));
  std::string line;
  while (std::getline(os, line)) {
    if (line.starts_with("PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      h.os = v;
    }
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    h.cpus = CPU_COUNT(&set);
  else
    h.cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  h.memory_bytes = read_mem_total(roots);
  h.cgroup = probe_cgroups(roots);
  h.kvm = probe_kvm(roots);
  h.user_namespaces = probe_user_namespaces(roots);
  h.overlayfs = probe_overlayfs(scratch);
  h.seccomp = probe_seccomp();
  h.idmapped_mounts = probe_idmapped_mounts(scratch);
  return h;
}

}  // namespace svc::isolation
