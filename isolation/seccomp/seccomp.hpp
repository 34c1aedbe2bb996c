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
  int errno_value = 1;  // for kErrno (EPERM unless said otherwise)
  // All must hold — unless one argument index appears more than once: then each condition is
  // a rule of its own and any may hold (libseccomp cannot AND two conditions on one argument;
  // runc and crun give Docker profiles that OR meaning, e.g. personality == 0 or 8 or 0x20000).
  std::vector<ArgCondition> args;
  std::string why;  // a line for people reading the profile
};

struct Profile {
  Action default_action = Action::kErrno;
  int default_errno = 1;  // EPERM
  // OCI/libseccomp names: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, ...
  // Empty: the native architecture and its compat ABIs. A syscall made through an ABI not
  // listed kills the process (libseccomp's "bad architecture" action).
  std::vector<std::string> architectures;
  std::vector<Rule> rules;
};

// The native architecture and the compat ABIs the kernel also accepts from a process of it:
// x86_64 -> {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32}; aarch64 -> {.._AARCH64, .._ARM}.
std::vector<std::string> native_architectures();

// svc's default: an allow-list that refuses what hardened runtimes refuse (mount and the new
// mount API, unshare/setns, clone with namespace flags, clone3 -> ENOSYS so libcs fall back to
// clone, keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd, io_uring, kexec, module
// loading, open_by_handle_at, reboot, ...), on every ABI of the machine (x86_64, i386, x32).
// Its architectures are native_architectures(), written out so that the profile means the same
// when exported (to_oci_json) to another runtime.
const Profile& default_profile();

// The "linux.seccomp" object of an OCI runtime spec (config.json), or a Docker-style profile file
// (same shape; a whole config.json is accepted too and its linux.seccomp used). Unknown syscall
// names are kept here and skipped by the compiler (per architecture), as runc does; unknown
// actions, ops or architectures and bad JSON are INVALID_ARGUMENT naming the field. Docker's
// extensions are understood: "archMap" (when "architectures" is absent) and per-entry
// "includes"/"excludes" on "arches", "caps" and "minKernel", evaluated for this host and for
// `granted_caps` (the sandbox's capabilities, e.g. "CAP_SYS_CHROOT"). SCMP_ACT_TRACE and
// SCMP_ACT_NOTIFY are refused: svc runs no tracer or seccomp agent.
Result<Profile> parse_oci_profile(std::string_view json,
                                  const std::vector<std::string>& granted_caps = {});
// OCI "linux.seccomp" JSON (pretty-printed); a Rule's `why` becomes the entry's "comment".
std::string to_oci_json(const Profile& profile);

// The cache key of a profile: sha256 (hex) of a canonical serialization of what reaches the
// kernel (architectures resolved and sorted, actions, errnos, names, args; not the comments),
// plus the libseccomp version, which decides the BPF produced.
std::string profile_key(const Profile& profile);

// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER).
struct Program {
  std::vector<sock_filter> filter;
  std::string key;  // sha256 of the canonical profile: the cache key
};

// Compiles once per distinct profile: repeated calls with an equal profile return the cached
// program (in memory; and from cache_dir on disk when set, so a restarted daemon does not
// recompile). Thread-safe.
// Disk cache: <cache_dir>/<key>.bpf, written atomically (temp + rename), holding a magic line,
// the sha256 of the program and the program; a file that fails the check is recompiled and
// replaced. The directory must be owned by the daemon (root): a program read from it is loaded
// into sandboxes.
class Compiler {
 public:
  struct Stats {
    std::uint64_t compilations = 0;  // libseccomp runs
    std::uint64_t memory_hits = 0;
    std::uint64_t disk_hits = 0;
    std::uint64_t cache_write_errors = 0;  // logged; the program is still returned
  };

  explicit Compiler(std::filesystem::path cache_dir = {});
  ~Compiler();
  Compiler(const Compiler&) = delete;
  Compiler& operator=(const Compiler&) = delete;
  Result<std::shared_ptr<const Program>> compile(const Profile& profile);
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Installs the filter in the calling thread (with SECCOMP_FILTER_FLAG_TSYNC when asked, for
// every thread of the process). Async-signal-safe: one seccomp(2) syscall, no allocation, usable
// between clone() and execve(); the Program must stay alive until it returns (the kernel copies
// it). Needs no_new_privs (prctl(PR_SET_NO_NEW_PRIVS, 1)) or CAP_SYS_ADMIN. Returns 0 or
// -errno (-EINVAL for an empty or oversized program; -ESRCH when TSYNC found a thread it could
// not synchronise).
int load(const Program& program, bool tsync = false) noexcept;

}  // namespace svc::isolation::seccomp
