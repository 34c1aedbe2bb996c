#include "isolation/launch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace svc::isolation {

namespace {

constexpr std::size_t kS0Stack = 64UL * 1024;
constexpr std::size_t kChildStack = 256UL * 1024;  // child_main keeps 4 KiB path buffers

// Shared by the runtime thread and s0 (same memory); copied into S and the child.
struct LaunchCtx {
  const LaunchRequest* req = nullptr;
  const int* keep = nullptr;
  int n_keep = 0;
  char* child_stack_top = nullptr;
  pid_t shim_pid = -1;  // written by s0
  int fork_errno = 0;   // written by s0
};

void report(int fd, std::uint32_t kind, int pid, int err, const char* text) {
  LaunchReport r;
  r.kind = kind;
  r.pid = pid;
  r.err = err;
  if (text) {
    std::size_t n = std::strlen(text);
    if (n >= sizeof r.text) n = sizeof r.text - 1;
    std::memcpy(r.text, text, n);
  }
  ssize_t ignored = ::write(fd, &r, sizeof r);
  (void)ignored;
}

int child_trampoline(void* arg) { child_main(*static_cast<const ChildArgs*>(arg)); }

const char* join_text(int type) {
  switch (type) {
    case CLONE_NEWNET:
      return "join the network namespace (is the path a network namespace?)";
    case CLONE_NEWPID:
      return "join the pid namespace (is the path a pid namespace?)";
    case CLONE_NEWIPC:
      return "join the ipc namespace (is the path an ipc namespace?)";
    case CLONE_NEWUTS:
      return "join the uts namespace (is the path a uts namespace?)";
    case CLONE_NEWNS:
      return "join the mount namespace (is the path a mount namespace?)";
    case CLONE_NEWCGROUP:
      return "join the cgroup namespace (is the path a cgroup namespace?)";
    default:
      return "join a namespace";
  }
}

void write_procs(const int* fds, int n) {
  for (int i = 0; i < n; ++i) {
    ssize_t ignored = ::write(fds[i], "0", 1);
    (void)ignored;
  }
}

// S: a private copy of the runtime's memory, single-threaded. Syscalls only.
[[noreturn]] void shim_side(const LaunchCtx& x) {
  const LaunchRequest& req = *x.req;
  const LaunchFds& f = req.child.fds;
  ::setsid();
  // Close every fd of the runtime's process except the launch's own (the gaps between them).
  unsigned lo = 3;
  for (int i = 0; i < x.n_keep; ++i) {
    unsigned k = static_cast<unsigned>(x.keep[i]);
    if (k < lo) continue;
    if (k > lo) ::close_range(lo, k - 1, 0);
    lo = k + 1;
  }
  ::close_range(lo, ~0u, 0);

  // Out of the daemon's cgroups (in every hierarchy we could), then into the sandbox's, so
  // the child is born there.
  write_procs(f.shim_procs, f.n_shim_procs);
  for (int i = 0; i < f.n_sandbox_procs; ++i) {
    if (::write(f.sandbox_procs[i], "0", 1) != 1) {
      report(f.report_w, LaunchReport::kError, 0, errno, "join the sandbox's cgroup");
      ::_exit(1);
    }
  }
  // Namespaces the sandbox joins (OCI "path"): entered here, with the runtime's privileges,
  // so that the child is born in them, whatever user namespace it makes for itself.
  for (int i = 0; i < f.n_joins; ++i) {
    if (::setns(f.join_fds[i], f.join_types[i]) != 0) {
      report(f.report_w, LaunchReport::kError, 0, errno, join_text(f.join_types[i]));
      ::_exit(1);
    }
  }
  int pidfd = -1;
  unsigned long flags = CLONE_VM | CLONE_PIDFD | SIGCHLD | req.child.plan->child.clone_flags;
  if (req.reparent) flags |= CLONE_PARENT;
  pid_t pid = ::clone(child_trampoline, x.child_stack_top, static_cast<int>(flags),
                      const_cast<ChildArgs*>(&req.child), &pidfd);
  if (pid < 0) {
    report(f.report_w, LaunchReport::kError, 0, errno, "clone the sandbox's first process");
    ::_exit(1);
  }
  // Back into the runtime's namespaces: the shim lives outside the sandbox.
  for (int i = f.n_joins - 1; i >= 0; --i) {
    if (::setns(f.restore_fds[i], f.join_types[i]) != 0) {
      report(f.report_w, LaunchReport::kError, pid, errno, "return to the runtime's namespaces");
      ::_exit(1);
    }
  }
  write_procs(f.shim_procs, f.n_shim_procs);

  // The pid goes into the shim's argv (a writable copy in this process).
  char digits[16];
  int nd = 0;
  for (unsigned v = static_cast<unsigned>(pid); nd == 0 || v; v /= 10)
    digits[nd++] = static_cast<char>('0' + v % 10);
  for (int i = 0; i < nd; ++i) req.pid_slot[i] = digits[nd - 1 - i];
  req.pid_slot[nd] = 0;

  if (::dup2(pidfd, f.pidfd_slot) != f.pidfd_slot) {
    report(f.report_w, LaunchReport::kError, pid, errno, "dup2 the pidfd");
    ::_exit(1);
  }
  ::close(pidfd);
  for (int fd : req.shim_fds) ::fcntl(fd, F_SETFD, 0);
  for (int i = 0; i < 3; ++i) ::dup2(req.null_fd, i);
  report(f.report_w, LaunchReport::kPid, pid, 0, nullptr);
  ::execve(req.shim_path, req.shim_argv.data(), req.shim_envp.data());
  report(f.report_w, LaunchReport::kError, pid, errno, "exec svc-shim");
  ::_exit(127);
}

int s0_main(void* arg) {
  auto* x = static_cast<LaunchCtx*>(arg);
  // A plain fork of the shared memory: the child returns here on its own copy of this stack.
  long r = ::syscall(SYS_clone, static_cast<unsigned long>(SIGCHLD), 0, 0, 0, 0);
  if (r == 0) shim_side(*x);
  x->fork_errno = r < 0 ? errno : 0;
  x->shim_pid = static_cast<pid_t>(r);
  return 0;
}

Result<LaunchReport> read_report(int fd, int timeout_ms, bool eof_ok) {
  struct pollfd p = {fd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return fail(Code::kDeadlineExceeded, "the shim did not report within {} ms", timeout_ms);
  LaunchReport r;
  ssize_t n;
  do {
    n = ::read(fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    if (eof_ok) return LaunchReport{};
    return fail(Code::kInternal, "the shim-to-be exited without reporting");
  }
  if (n != static_cast<ssize_t>(sizeof r))
    return fail(Code::kInternal, "short report from the shim-to-be ({} bytes)", n);
  r.text[sizeof r.text - 1] = 0;
  if (r.kind == LaunchReport::kError)
    return tl::unexpected(sys_error(r.err, std::string("launch: ") + r.text));
  return r;
}

}  // namespace

std::vector<int> launch_keep_list(const LaunchRequest& req) {
  const LaunchFds& f = req.child.fds;
  std::vector<int> keep = {f.report_w,  f.sync_child, f.ctl_listen, f.out_r,     f.out_w,
                           f.err_r,     f.err_w,      f.stdio[0],   f.stdio[1],  f.stdio[2],
                           f.start_r,   f.start_w,    f.execerr_r,  f.execerr_w, f.pidfd_slot,
                           req.null_fd, f.console_w,  f.console_r,  f.stdin_w};
  for (int i = 0; i < f.n_sandbox_procs; ++i) keep.push_back(f.sandbox_procs[i]);
  for (int i = 0; i < f.n_shim_procs; ++i) keep.push_back(f.shim_procs[i]);
  for (int i = 0; i < f.n_joins; ++i) {
    keep.push_back(f.join_fds[i]);
    keep.push_back(f.restore_fds[i]);
  }
  keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 0; }), keep.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  return keep;
}

Result<Launched> launch(LaunchRequest& req, int report_r, int timeout_ms) {
  std::vector<int> keep = launch_keep_list(req);
  std::size_t size = kS0Stack + kChildStack;
  void* mem =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return fail_errno("mmap launch stacks");
  LaunchCtx x;
  x.req = &req;
  x.keep = keep.data();
  x.n_keep = static_cast<int>(keep.size());
  x.child_stack_top = static_cast<char*>(mem) + size;  // stacks grow down
  char* s0_stack_top = static_cast<char*>(mem) + kS0Stack;

  // No handler of this process may run in s0 (it shares our memory): block everything across
  // the clone, as posix_spawn does. S and the child reset their masks.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t s0 = ::clone(s0_main, s0_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &x);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (s0 < 0) {
    ::munmap(mem, size);
    return fail_errno(clone_errno, "clone the launcher");
  }
  int status = 0;
  while (::waitpid(s0, &status, 0) < 0 && errno == EINTR) {
  }
  // S has its own copy of everything s0 used; our stacks can go.
  ::munmap(mem, size);
  if (x.shim_pid < 0) return fail_errno(x.fork_errno, "fork the shim");
  auto r = SVC_TRY(read_report(report_r, timeout_ms, false));
  if (r.kind != LaunchReport::kPid || r.pid <= 0)
    return fail(Code::kInternal, "unexpected report from the shim-to-be");
  return Launched{x.shim_pid, r.pid};
}

Result<> await_shim_exec(int report_r, int timeout_ms) {
  auto r = SVC_TRY(read_report(report_r, timeout_ms, true));
  if (r.kind != 0) return fail(Code::kInternal, "unexpected second report from the shim-to-be");
  return {};
}

}  // namespace svc::isolation
