#pragma once
// A process exec'd into a running sandbox, between the clones and its execve:
//
//   S (a private copy of the runtime: the exec shim-to-be, or a helper that only reports)
//   └─ fork ──► J, the joiner, in the host's pid namespace: sets the limits, joins the task's
//      │        namespaces through its pidfd (user first: setns(2) with a pidfd joins them at
//      once), │        drops to the exec's credentials and capabilities, changes to its working
//      dir, opens │        its terminal, sets no_new_privs, and reports to S └─ clone(CLONE_VM) ──►
//      P, born in the sandbox's pid namespace with exactly those
//                             credentials: waits to be released, takes its stdio (or terminal),
//                             loads the sandbox's seccomp filter and execs.
//
// J exits at once; P is reparented to S (a child subreaper) or, when S does not stay, to the
// caller's subreaper (svc-runtime exec, conmon, containerd's shim). So no runtime code ever runs
// inside the sandbox's pid namespace with more privilege than the task has: J, which holds the
// sandbox's namespace capabilities for a few syscalls, is invisible to the task (another pid
// namespace), and P has the task's credentials from its first instruction. Neither is dumpable
// (their memory belongs to the host's user namespace), so no /proc/<pid>/exe or ptrace path
// leads from the task into the runtime. S, not J, moves P into the sandbox's cgroup: the
// helpers never count against the sandbox's pids limit, P does.
//
// Everything here runs in copies of a multi-threaded program: syscalls and reads of the plan
// only, no allocation, no locks, no exceptions. Errors travel as LaunchReport (J) and
// ChildMessage (P, on execerr_w, as when the task's own exec fails).
#include "isolation/exec_plan.hpp"
#include "isolation/launch.hpp"
#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation {

struct ExecFds {
  int report_w = -1;                   // S -> runtime: P's pid, or an error
  int inner_r = -1, inner_w = -1;      // J -> S
  int task_pidfd = -1;                 // the sandbox's first process: whose namespaces to join
  int console_w = -1, console_r = -1;  // a terminal: J sends its master on console_w
  int stdio[3] = {-1, -1, -1};         // P's 0, 1, 2 (without a terminal)
  int start_r = -1, start_w = -1;      // one byte on start_w: P execs
  int execerr_r = -1, execerr_w = -1;  // P -> its releaser: why execve failed (EOF: it did not)
  int pidfd_slot = -1;                 // the shim's pidfd of P is dup2'ed here
  int ctl = -1;                        // the exec shim's listening socket
  int shim_side[3] = {-1, -1, -1};     // the shim's ends of P's stdout, stderr, stdin pipes
  int null_fd = -1;
  const int* sandbox_procs = nullptr;  // cgroup.procs of the sandbox's cgroup, per hierarchy
  int n_sandbox_procs = 0;
  const int* shim_procs = nullptr;  // cgroup.procs of the shims' cgroup (shim-owned execs)
  int n_shim_procs = 0;
};

struct ExecChildArgs {
  const ExecPlan* plan = nullptr;
  const seccomp::Program* seccomp = nullptr;
  const char* const* argv = nullptr;  // NULL-terminated
  const char* const* envp = nullptr;
  const char* cwd = nullptr;
  const char* path = nullptr;  // PATH for argv[0]
  const gid_t* groups = nullptr;
  int n_groups = 0;
  ExecFds fds;
};

struct ExecLaunchRequest {
  ExecChildArgs child;
  // true: S becomes the exec's shim (svc-shim, its parent, outliving the caller). false: S
  // reports and exits; P ends up with the caller's subreaper, released by the caller.
  bool shim = true;
  std::vector<int> shim_fds;  // kept across the shim's exec
  const char* shim_path = nullptr;
  std::vector<char*> shim_argv;  // NULL-terminated; pid_slot is overwritten with P's pid
  char* pid_slot = nullptr;
  std::vector<char*> shim_envp;
};

// Starts S, J and P; returns once S reported P's host pid (P waits for its start byte then).
// report_r: the runtime's end of child.fds.report_w. With shim, await_shim_exec() follows.
Result<Launched> launch_exec(ExecLaunchRequest& request, int report_r, int timeout_ms);

}  // namespace svc::isolation
