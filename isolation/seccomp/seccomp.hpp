#pragma once
// Seccomp: profiles as data (the default allow-list is commented data in default_profile.cpp,
// every entry saying why it is allowed or refused), an OCI-format JSON profile reader, and a
// compiler to classic BPF that is run once per distinct profile and cached, so starting a sandbox
// costs one seccomp(2) call and no compilation (crun spends most of its 25 ms start-up
// compiling the Docker profile on every start).
//
// Interface contract (owned by the seccomp work; extend, do not break).
#include <linux/filter.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::isolation::seccomp {

enum class Action { kAllow, kErrno, kKill, kKillProcess, kTrap, kLog };

struct ArgCondition {
  unsigned index = 0;  // syscall argument 0..5
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kMaskedEq } op = Op::kEq;
  std::uint64_t value = 0;
  std::uint64_t value_two = 0;  // the value to compare with, for kMaskedEq (value is the mask)
};

struct Rule {
  std::vector<std::string> names;  // syscall names, resolved per architecture
  Action action = Action::kAllow;
  int errno_value = 1;             // for kErrno (EPERM unless said otherwise)
  std::vector<ArgCondition> args;  // all must hold
  std::string why;                 // a line for people reading the profile
};

struct Profile {
  Action default_action = Action::kErrno;
  int default_errno = 1;  // EPERM
  // OCI/libseccomp names: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, ...
  // Empty: the native architecture and its compat ABIs.
  std::vector<std::string> architectures;
  std::vector<Rule> rules;
};

// svc's default: an allow-list that refuses what hardened runtimes refuse (mount and the new
// mount API, unshare/setns, clone with namespace flags, clone3 -> ENOSYS so libcs fall back to
// clone, keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd, io_uring, kexec, module
// loading, open_by_handle_at, reboot, ...), on every ABI of the machine (x86_64, i386, x32).
const Profile& default_profile();

// The "linux.seccomp" object of an OCI runtime spec (config.json), or a Docker-style profile file
// (same shape). Unknown syscall names are skipped as runc does; bad JSON is INVALID_ARGUMENT
// naming the field.
Result<Profile> parse_oci_profile(std::string_view json);
std::string to_oci_json(const Profile& profile);

// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER).
struct Program {
  std::vector<sock_filter> filter;
  std::string key;  // sha256 of the canonical profile: the cache key
};

// Compiles once per distinct profile: repeated calls with an equal profile return the cached
// program (in memory; and from cache_dir on disk when set, so a restarted daemon does not
// recompile). Thread-safe.
class Compiler {
 public:
  explicit Compiler(std::filesystem::path cache_dir = {});
  ~Compiler();
  Result<std::shared_ptr<const Program>> compile(const Profile& profile);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Installs the filter in the calling thread (with SECCOMP_FILTER_FLAG_TSYNC when asked). Async-
// signal-safe: no allocation, usable between clone() and execve(). Needs no_new_privs (or
// CAP_SYS_ADMIN). Returns 0 or -errno.
int load(const Program& program, bool tsync = false) noexcept;

}  // namespace svc::isolation::seccomp
