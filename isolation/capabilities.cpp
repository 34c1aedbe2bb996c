#include "isolation/capabilities.hpp"

#include <array>
#include <cctype>

namespace svc::isolation {

namespace {

// Index = capability number (linux/capability.h).
constexpr std::array<std::string_view, kLastKnownCap + 1> kNames = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::optional<int> capability_from_name(std::string_view name) {
  if (name.size() > 4 && iequals(name.substr(0, 4), "CAP_")) name.remove_prefix(4);
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (iequals(kNames[i], name)) return static_cast<int>(i);
  return std::nullopt;
}

std::string capability_name(int cap) {
  if (cap >= 0 && cap <= kLastKnownCap) return "CAP_" + std::string(kNames[cap]);
  return "CAP_" + std::to_string(cap);
}

std::vector<std::string> capability_names(std::uint64_t mask) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i)
    if (mask & (1ull << i)) out.push_back(capability_name(i));
  return out;
}

Result<std::uint64_t> capability_mask(const std::vector<std::string>& names, bool strict) {
  std::uint64_t mask = 0;
  for (const auto& n : names) {
    auto cap = capability_from_name(n);
    if (!cap) {
      if (strict)
        return fail(Code::kInvalidArgument,
                    "unknown capability \"{}\" (names look like CAP_NET_BIND_SERVICE)", n);
      continue;
    }
    mask |= 1ull << *cap;
  }
  return mask;
}

}  // namespace svc::isolation
