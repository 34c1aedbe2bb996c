#pragma once
// What this host's kernel lets a sandbox use, found by trying each feature in a throw-away child
// process (its own mount namespace, so nothing it mounts is seen or left behind), never by
// reading version numbers. Roots are parameters so unit tests can point them at fake trees.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace svc::isolation {

struct FeatureProbe {
  bool usable = false;
  std::string detail;
};

enum class CgroupMode { kUnknown, kV1, kV2, kHybrid };

struct CgroupControllerInfo {
  std::string name;
  std::string version;  // "v1" or "v2"
  bool usable = false;
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kUnknown;
  std::filesystem::path root = "/sys/fs/cgroup";
  std::filesystem::path unified;  // the cgroup2 mount, if any
  std::vector<CgroupControllerInfo> controllers;
  std::string driver;  // "v1" or "v2": what svc manages sandboxes with
  // Moving a process into a cgroup (every sandbox start does) takes a lock that, by default,
  // first waits for an RCU grace period after a quiet moment: 4-20 ms per cold start measured
  // on this project's hosts. A cgroup file system mounted with favordynmods (a kernel feature
  // listed in /sys/kernel/cgroup/features) makes it ~0.04 ms.
  bool favordynmods_supported = false;
  bool favordynmods = false;  // some cgroup or cgroup2 mount carries the option
  // This process has a cgroup of its own on the cgroup2 mount (not its root), as a systemd
  // service has: the shims move out of it there, a v2 move even on a hybrid host.
  bool own_v2_cgroup = false;
};

struct KvmProbe {
  bool device_present = false;
  std::string flavour;  // kvm_intel, kvm_amd, kvm_pvm, or ""
  bool usable_for_vms = false;
  std::string detail;
};

struct HostFacts {
  std::string hostname;
  std::string os;
  std::string kernel;
  std::string architecture;  // OCI names: amd64, arm64, ...
  int cpus = 0;
  std::uint64_t memory_bytes = 0;
  CgroupLayout cgroup;
  FeatureProbe user_namespaces;
  FeatureProbe overlayfs;
  FeatureProbe seccomp;
  FeatureProbe idmapped_mounts;
  KvmProbe kvm;
};

struct ProbeRoots {
  std::filesystem::path proc = "/proc";
  std::filesystem::path sys = "/sys";
  std::filesystem::path dev = "/dev";
  std::filesystem::path etc = "/etc";
};

// Parses mountinfo and the controller lists below roots (no syscalls beyond reading files).
CgroupLayout probe_cgroups(const ProbeRoots& roots = {});
KvmProbe probe_kvm(const ProbeRoots& roots = {});
std::string oci_architecture(std::string_view uname_machine);
std::uint64_t read_mem_total(const ProbeRoots& roots = {});

// Probes by trying, in forked children. scratch_dir: an empty-able directory on the filesystem
// that will hold snapshots (idmapped mounts depend on the filesystem).
FeatureProbe probe_user_namespaces(const ProbeRoots& roots = {});
FeatureProbe probe_overlayfs(const std::filesystem::path& scratch_dir);
FeatureProbe probe_seccomp();
FeatureProbe probe_idmapped_mounts(const std::filesystem::path& scratch_dir);

// Everything above. Call before starting threads (it forks).
HostFacts probe_host(const std::filesystem::path& scratch_dir, const ProbeRoots& roots = {});

}  // namespace svc::isolation
