#pragma once
// The sandbox's first process, between clone() and execve(): it waits for the runtime to map
// its ids and send the prepared mounts, applies the plan's child steps under the new root,
// pivots into it, drops privileges and, once the shim says start, loads the seccomp filter and
// execs the task. It runs in a copy of a multi-threaded program, so it only reads the plan and
// makes syscalls: no allocation, no locks, no exceptions. Errors go back as a ChildMessage.
//
// The /proc/self/exe class of escapes (CVE-2019-5736: a task opens the runtime's binary through
// /proc/<pid>/exe of a runtime process inside its namespaces and overwrites it) cannot happen
// here, without the sealed memfd copy runc and crun make, because no runtime code ever runs
// alongside the task: this process is the only one in the sandbox until its execve, which
// replaces the runtime's image before any task code runs (the task is pid 1: nothing of the
// sandbox exists before it); it is non-dumpable throughout, so even its own /proc files are
// root-owned; the shim, the task's parent, lives outside the sandbox's pid namespace (invisible)
// and is non-dumpable; and svc never joins a running sandbox with a runtime process (no
// `exec` into a sandbox). security_test.cpp tries every /proc/*/exe from inside and compares the
// binaries' sha256 before and after.
#include <sys/types.h>

#include <cstdint>

#include "isolation/child_message.hpp"
#include "isolation/plan.hpp"
#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation {

// Every fd the launch uses. The runtime opens them all with O_CLOEXEC before cloning; the
// numbers are the same in the shim-to-be (a fork) and in the child (its clone).
struct LaunchFds {
  int report_w = -1;    // shim-to-be -> runtime: the child's pid, or an error
  int sync_child = -1;  // the child's end of the ChildMessage socket
  int ctl_listen = -1;  // the shim's listening control socket
  int out_r = -1, out_w = -1, err_r = -1, err_w = -1;  // the task's stdout/stderr pipes
  int stdio[3] = {-1, -1, -1};                         // what the child dup2s onto 0, 1, 2
  int start_r = -1, start_w = -1;                      // shim writes one byte: exec now
  int execerr_r = -1, execerr_w = -1;  // child -> shim: why execve failed (EOF: it did not)
  int pidfd_slot = -1;  // a placeholder the child's pidfd is dup2'ed onto for the shim
  // A terminal task: the child sends its pty master on console_w; console_r is the shim's (or
  // the runtime's) end. stdin_w: the shim's end of the task's stdin pipe (its read end is in
  // stdio[0]).
  int console_w = -1, console_r = -1;
  int stdin_w = -1;
  // <sandbox>: the root is attached at <sandbox>/rootfs. A path, not an fd: an fd opened before
  // the clone would name the host's mount namespace, where nothing may be attached.
  const char* sandbox_dir = nullptr;
  const int* sandbox_procs = nullptr;  // cgroup.procs of the sandbox's cgroup, one per hierarchy
  int n_sandbox_procs = 0;
  const int* shim_procs = nullptr;  // cgroup.procs of the shims' cgroup
  int n_shim_procs = 0;
  // Namespaces the shim-to-be enters before it clones the child (so the child is born in them)
  // and leaves again after: join_fds[i] is entered as join_types[i] (CLONE_NEW*), restore_fds[i]
  // (the runtime's own namespace of that type) is entered again afterwards.
  const int* join_fds = nullptr;
  const int* join_types = nullptr;
  const int* restore_fds = nullptr;
  int n_joins = 0;
};

// Read-only inputs of the child, built by the runtime before the clone.
struct ChildArgs {
  const Plan* plan = nullptr;
  const seccomp::Program* seccomp = nullptr;  // null: no filter
  const char* const* argv = nullptr;          // NULL-terminated, from plan->child.argv
  const char* const* envp = nullptr;
  LaunchFds fds;
  // SIGKILL when the parent dies (the shim-to-be, until it has exec'd the shim). Off when the
  // first process is handed to the caller's subreaper (CreateOptions::reparent): its parent then
  // exits at once by design.
  bool kill_with_parent = true;
  // With fds.console_w: the pty's first size (0: the kernel's).
  unsigned short console_rows = 0, console_cols = 0;
};

// Never returns: execs the task or _exits (1 for set-up errors, 127 when execve fails).
[[noreturn]] void child_main(const ChildArgs& args);

}  // namespace svc::isolation
