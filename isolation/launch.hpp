#pragma once
// Starting a sandbox's processes without making the daemon their parent:
//
//   runtime thread ── clone(CLONE_VM|CLONE_VFORK) ──► s0 ── fork ──► S (the shim-to-be)
//                                                    (exits at once)   │ setsid, joins the shims'
//                                                                      │ cgroups and the sandbox's
//                                                                      ├─
//                                                                      clone(CLONE_VM|CLONE_NEW*|
//                                                                      │   CLONE_PIDFD) ──► child
//                                                                      │   (child_exec.hpp)
//                                                                      └─ execve(svc-shim)
//
// s0 shares the runtime's memory and blocks only the calling thread (as posix_spawn does), so
// the runtime's page tables are copied once (for S), and the child shares S's copy until S execs
// the shim. S is reparented to init when s0 exits: the daemon never has to reap shims, and
// they survive it. The child is born in the sandbox's cgroup (S joins it just before the
// clone), so with CLONE_NEWCGROUP its cgroup namespace is rooted there.
#include <sys/types.h>

#include <vector>

#include "common/result.hpp"
#include "isolation/child_exec.hpp"

namespace svc::isolation {

// S -> runtime over LaunchFds::report_w.
struct LaunchReport {
  static constexpr std::uint32_t kPid = 1;
  static constexpr std::uint32_t kError = 2;
  std::uint32_t kind = 0;
  std::int32_t pid = 0;
  std::int32_t err = 0;
  char text[200] = {0};
};

struct LaunchRequest {
  ChildArgs child;            // child.fds holds every fd of the launch
  int null_fd = -1;           // /dev/null: the shim's stdin/stdout/stderr
  std::vector<int> shim_fds;  // fds the shim keeps across its exec
  const char* shim_path = nullptr;
  std::vector<char*> shim_argv;  // NULL-terminated; pid_slot is overwritten with the pid
  char* pid_slot = nullptr;      // a writable argv string of at least 12 bytes
  std::vector<char*> shim_envp;  // NULL-terminated
  // The child is cloned with CLONE_PARENT: a sibling of S rather than its child, so that once
  // s0 has exited it is reparented to the caller's subreaper (or init), which reaps it. What
  // conmon and containerd's runc shim expect of `create`: they learn the exit status from
  // waitpid. The shim then only sees the exit (its pidfd), not the status.
  bool reparent = false;
};

struct Launched {
  pid_t shim_pid = -1;
  pid_t pid = -1;  // the sandbox's first process, in the host's pid namespace
};

// Starts S and the child; returns once S reported the child's pid (the child is then waiting
// for its ChildMessage::kGo). report_r: the runtime's end of child.fds.report_w.
Result<Launched> launch(LaunchRequest& request, int report_r, int timeout_ms);

// After the child reported ready: waits until S has exec'd the shim (report_r reaches EOF) or
// failed to (an error report).
Result<> await_shim_exec(int report_r, int timeout_ms);

// The fds that S keeps (every fd of the launch), sorted, for closing the gaps between them.
std::vector<int> launch_keep_list(const LaunchRequest& request);

}  // namespace svc::isolation
