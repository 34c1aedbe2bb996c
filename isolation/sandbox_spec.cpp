#include "isolation/sandbox_spec.hpp"

#include <linux/capability.h>
#include <sys/resource.h>

namespace svc::isolation {

CapabilitySets default_capabilities() {
  // Podman's default set (containers.conf default_capabilities): enough for images that start
  // as root and drop to a service user (chown, setuid/setgid, binding port 80), nothing that
  // reaches the kernel's shared state (no SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, MKNOD).
  constexpr int kCaps[] = {CAP_CHOWN,   CAP_DAC_OVERRIDE,     CAP_FOWNER,    CAP_FSETID,
                           CAP_KILL,    CAP_NET_BIND_SERVICE, CAP_SETFCAP,   CAP_SETGID,
                           CAP_SETPCAP, CAP_SETUID,           CAP_SYS_CHROOT};
  std::uint64_t mask = 0;
  for (int c : kCaps) mask |= 1ull << c;
  CapabilitySets s;
  s.bounding = s.effective = s.permitted = mask;
  return s;
}

std::vector<Rlimit> default_rlimits() {
  // Hard 65536 is clamped to the host's hard limit when planned (20000 on the CI machine).
  return {{RLIMIT_NOFILE, 1024, 65536}};
}

std::vector<std::string> default_masked_paths() {
  // The list runc, crun and Docker mask: kernel memory, key and timer state that leaks other
  // tenants' activity, firmware and power-capping controls.
  return {"/proc/asound",     "/proc/acpi",        "/proc/interrupts",
          "/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
          "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap"};
}

std::vector<std::string> default_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

}  // namespace svc::isolation
