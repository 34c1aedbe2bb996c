#pragma once
// A process exec'd into a running sandbox (docker exec, runc exec), planned as plain data: what
// the exec asks for over the sandbox's defaults (exec_defaults.hpp) — the same credentials,
// capabilities, no_new_privs and seccomp filter as the task unless the exec names others — and
// which of the task's namespaces differ from the caller's (those are joined). plan_exec() is a
// pure function, unit-tested; exec_child.cpp applies the plan, runtime_exec.cpp runs it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "isolation/exec_defaults.hpp"
#include "isolation/sandbox_spec.hpp"

namespace svc::isolation {

struct ExecSpec {
  std::vector<std::string> args;  // args[0] is looked up in the PATH of env when it has no '/'
  // Added to the task's environment (a name given here replaces the task's value).
  std::vector<std::string> env;
  std::string cwd;   // "": the task's working directory
  std::string user;  // "": the task's; else uid, uid:gid, or names from the image's passwd/group
  std::optional<CapabilitySets> capabilities;  // default: the task's
  std::optional<bool> no_new_privs;            // default: the task's
  bool terminal = false;
  std::uint16_t console_rows = 0, console_cols = 0;
  bool open_stdin = false;  // (shim-owned execs) a stdin pipe fed by attached clients
};

struct ExecPlan {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string path;  // PATH used to find argv[0]
  std::string cwd;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;
  CapabilitySets caps;
  std::vector<Rlimit> rlimits;
  bool no_new_privs = true;
  int cap_last_cap = 40;
  bool terminal = false;
  std::uint16_t console_rows = 0, console_cols = 0;
  // CLONE_NEW* of the namespaces to join through the task's pidfd (setns(2) with a pidfd joins
  // them at once, the user namespace first).
  unsigned long setns_flags = 0;
};

// Identity of one namespace of a process (/proc/<pid>/ns/<name>: device and inode).
struct NamespaceId {
  unsigned long long dev = 0, ino = 0;
  bool operator==(const NamespaceId&) const = default;
};
// For user, mnt, uts, ipc, net, cgroup, pid: the task's and the caller's namespace ids.
struct NamespaceFacts {
  NamespaceId task[7];
  NamespaceId self[7];
};
// The CLONE_NEW* flags of the namespaces in which the task differs from the caller (joining
// one's own user namespace is refused by the kernel, so equal ones are left out).
unsigned long namespaces_to_join(const NamespaceFacts& facts);
// Reads the facts from <proc>/<pid>/ns and <proc>/self/ns.
Result<NamespaceFacts> read_namespace_facts(const std::filesystem::path& proc, int pid);

// user_ids: the exec's user resolved (uid, gid, groups) when it named one; INVALID_ARGUMENT
// naming the field for bad args, env or cwd.
struct ResolvedUser {
  std::uint32_t uid = 0, gid = 0;
  std::vector<std::uint32_t> groups;
};
Result<ExecPlan> plan_exec(const ExecSpec& spec, const ExecDefaults& defaults,
                           const std::optional<ResolvedUser>& user, unsigned long setns_flags);

}  // namespace svc::isolation
