// The processes of an exec (exec_child.hpp): S, the joiner J and the exec'd process P. Like
// child_exec.cpp, everything between the first clone and P's execve is syscalls and reads of
// the prepared plan: no allocation, no stdio, no exceptions.
#include "isolation/exec_child.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "isolation/child_message.hpp"
#include "isolation/terminal.hpp"

namespace svc::isolation {

namespace {

constexpr std::size_t kStack = 64UL * 1024;  // each of s0, J's copy of S and P

struct ExecCtx {
  const ExecLaunchRequest* req = nullptr;
  const int* keep = nullptr;
  int n_keep = 0;
  char* p_stack_top = nullptr;
  pid_t s_pid = -1;    // written by s0
  int fork_errno = 0;  // written by s0
  int slave = -1;      // J -> P (shared memory): the terminal's slave
};

void report(int fd, std::uint32_t kind, int pid, int err, const char* what, const char* target) {
  LaunchReport r;
  r.kind = kind;
  r.pid = pid;
  r.err = err;
  std::size_t n = 0;
  for (const char* s : {what, target}) {
    if (!s) continue;
    if (n && n + 1 < sizeof r.text) r.text[n++] = ' ';
    while (*s && n + 1 < sizeof r.text) r.text[n++] = *s++;
  }
  r.text[n] = 0;
  ssize_t ignored = ::write(fd, &r, sizeof r);
  (void)ignored;
}

[[noreturn]] void j_die(const ExecChildArgs& a, const char* what, int err = errno,
                        const char* target = nullptr) {
  report(a.fds.inner_w, LaunchReport::kError, 0, err, what, target);
  ::_exit(1);
}

// See child_exec.cpp: the raw syscalls change only the calling thread, which here is the whole
// process; glibc's wrappers would signal threads that exist only in the parent.
int sys_setresuid(uid_t u) { return static_cast<int>(::syscall(SYS_setresuid, u, u, u)); }
int sys_setresgid(gid_t g) { return static_cast<int>(::syscall(SYS_setresgid, g, g, g)); }

void reset_signals() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, _NSIG / 8);
}

// The task's credentials and capabilities, in the order child_exec.cpp drops them.
void drop_privileges(const ExecChildArgs& a) {
  const ExecPlan& p = *a.plan;
  for (int cap = 0; cap <= p.cap_last_cap && cap < 64; ++cap)
    if (!(p.caps.bounding & (1ull << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
        errno != EINVAL)
      j_die(a, "drop capability from the bounding set");
  if (::syscall(SYS_setgroups, static_cast<std::size_t>(a.n_groups), a.groups) != 0)
    j_die(a, "setgroups");
  if (sys_setresgid(p.gid) != 0) j_die(a, "setresgid");
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) j_die(a, "prctl(PR_SET_KEEPCAPS)");
  if (sys_setresuid(p.uid) != 0) j_die(a, "setresuid");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof data);
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<std::uint32_t>(p.caps.effective >> (32 * i));
    data[i].permitted = static_cast<std::uint32_t>(p.caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<std::uint32_t>(p.caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) j_die(a, "capset");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    j_die(a, "clear ambient capabilities");
  for (int cap = 0; cap < 64; ++cap)
    if ((p.caps.ambient & (1ull << cap)) &&
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      j_die(a, "raise ambient capability");
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // a credential change resets it
}

[[noreturn]] void exec_failed(int fd, const char* what, const char* target, int err) {
  ChildMessage m;
  m.kind = ChildMessage::kError;
  m.err = err;
  std::size_t n = 0;
  for (const char* s : {what, target}) {
    if (!s) continue;
    if (n && n + 1 < sizeof m.text) m.text[n++] = ' ';
    while (*s && n + 1 < sizeof m.text) m.text[n++] = *s++;
  }
  m.text[n] = 0;
  ssize_t ignored = ::write(fd, &m, sizeof m);  // < PIPE_BUF: atomic
  (void)ignored;
  ::_exit(127);
}

// P: in the sandbox's pid namespace, with the exec's credentials from its first instruction.
int p_main(void* arg) {
  const ExecCtx& x = *static_cast<const ExecCtx*>(arg);
  const ExecChildArgs& a = x.req->child;
  const ExecFds& f = a.fds;
  ::close(f.inner_w);  // J's: S waits for its report, not for its EOF
  char go = 0;
  ssize_t n;
  do {
    n = ::read(f.start_r, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(0);  // nobody released it (the caller gave up): never run the command
  if (x.slave >= 0) {
    if (int rc = take_terminal(x.slave); rc != 0)
      exec_failed(f.execerr_w, "make the terminal the controlling one", nullptr, -rc);
  } else {
    for (int i = 0; i < 3; ++i)
      if (::dup2(f.stdio[i], i) != i) exec_failed(f.execerr_w, "set up stdio", nullptr, errno);
  }
  ::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
  // Last before execve, as for the task: the filter need allow nothing of this set-up.
  if (a.seccomp) {
    int rc = seccomp::load(*a.seccomp);
    if (rc != 0) exec_failed(f.execerr_w, "load the seccomp filter", nullptr, -rc);
  }
  const char* file = a.argv[0];
  int err = ENOENT;
  if (std::strchr(file, '/')) {
    ::execve(file, const_cast<char* const*>(a.argv), const_cast<char* const*>(a.envp));
    err = errno;
  } else {
    bool eacces = false;
    char buf[4096];
    std::size_t flen = std::strlen(file);
    for (const char* p = a.path;;) {
      const char* colon = std::strchr(p, ':');
      std::size_t dlen = colon ? static_cast<std::size_t>(colon - p) : std::strlen(p);
      if (dlen + flen + 2 < sizeof buf) {
        std::memcpy(buf, p, dlen);  // NOLINT(bugprone-not-null-terminated-result): the name's
        std::size_t k = dlen;       // copy below brings the NUL
        if (k == 0) buf[k++] = '.';
        buf[k++] = '/';
        std::memcpy(buf + k, file, flen + 1);
        ::execve(buf, const_cast<char* const*>(a.argv), const_cast<char* const*>(a.envp));
        if (errno == EACCES)
          eacces = true;
        else if (errno != ENOENT && errno != ENOTDIR) {
          err = errno;
          break;
        }
      }
      if (!colon) {
        err = eacces ? EACCES : ENOENT;
        break;
      }
      p = colon + 1;
    }
  }
  exec_failed(f.execerr_w, "exec", file, err);
}

// J: a private copy of S, single-threaded (setns(CLONE_NEWUSER) refuses a shared memory map).
[[noreturn]] void j_main(ExecCtx& x) {
  const ExecChildArgs& a = x.req->child;
  const ExecPlan& p = *a.plan;
  const ExecFds& f = a.fds;
  reset_signals();
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Ends that belong to S, the shim or the runtime: P would hold them (hiding EOFs) until its
  // exec.
  for (int fd : {f.report_w, f.inner_r, f.console_r, f.start_w, f.execerr_r, f.pidfd_slot, f.ctl,
                 f.shim_side[0], f.shim_side[1], f.shim_side[2]})
    if (fd >= 0) ::close(fd);
  for (int i = 0; i < f.n_sandbox_procs; ++i) ::close(f.sandbox_procs[i]);
  for (int i = 0; i < f.n_shim_procs; ++i) ::close(f.shim_procs[i]);
  // Still host root here: raising a hard limit needs CAP_SYS_RESOURCE of the host.
  for (const Rlimit& r : p.rlimits) {
    struct rlimit rl = {r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource_t>(r.resource), &rl) != 0) j_die(a, "setrlimit");
  }
  if (p.setns_flags && ::syscall(SYS_setns, f.task_pidfd, static_cast<int>(p.setns_flags)) != 0)
    j_die(a, "join the sandbox's namespaces (setns)");
  ::close(f.task_pidfd);
  // In the sandbox's user namespace with all of its capabilities: drop to the exec's at once.
  drop_privileges(a);
  int cwd = ::open(a.cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0) j_die(a, "open the working directory", errno, a.cwd);
  struct statfs sfs;
  if (::fstatfs(cwd, &sfs) != 0) j_die(a, "statfs the working directory", errno, a.cwd);
  if (sfs.f_type == PROC_SUPER_MAGIC)
    j_die(a, "working directory is on procfs; refused:", EPERM, a.cwd);
  if (::fchdir(cwd) != 0) j_die(a, "chdir", errno, a.cwd);
  ::close(cwd);
  if (f.console_w >= 0) {
    int master = -1;
    int rc = open_pty(&master, &x.slave, p.console_rows, p.console_cols);
    if (rc != 0) j_die(a, "open a terminal (/dev/ptmx)", -rc);
    rc = send_fd(f.console_w, master);
    if (rc != 0) j_die(a, "send the terminal", -rc);
    ::close(master);
    ::close(f.console_w);
  }
  if (p.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    j_die(a, "prctl(PR_SET_NO_NEW_PRIVS)");
  int pid = ::clone(p_main, x.p_stack_top, CLONE_VM | SIGCHLD, &x);
  if (pid < 0) j_die(a, "start the process in the sandbox's pid namespace (clone)");
  report(f.inner_w, LaunchReport::kPid, pid, 0, nullptr, nullptr);
  ::_exit(0);
}

void write_pid(const int* fds, int n, pid_t pid, int* err) {
  char digits[16];
  int nd = 0;
  for (unsigned v = static_cast<unsigned>(pid); nd == 0 || v; v /= 10)
    digits[nd++] = static_cast<char>('0' + v % 10);
  char text[16];
  for (int i = 0; i < nd; ++i) text[i] = digits[nd - 1 - i];
  for (int i = 0; i < n; ++i)
    if (::write(fds[i], text, static_cast<std::size_t>(nd)) != nd && err && !*err) *err = errno;
}

// S: a private copy of the runtime's memory, single-threaded.
[[noreturn]] void s_main(ExecCtx& x) {
  const ExecLaunchRequest& req = *x.req;
  const ExecFds& f = req.child.fds;
  if (req.shim) ::setsid();
  unsigned lo = 3;
  for (int i = 0; i < x.n_keep; ++i) {
    unsigned k = static_cast<unsigned>(x.keep[i]);
    if (k < lo) continue;
    if (k > lo) ::close_range(lo, k - 1, 0);
    lo = k + 1;
  }
  ::close_range(lo, ~0u, 0);
  if (req.shim) {
    // Out of the daemon's cgroups (so the exec shim outlives it as the task's shim does), and
    // the parent of P once J is gone.
    for (int i = 0; i < f.n_shim_procs; ++i) {
      ssize_t ignored = ::write(f.shim_procs[i], "0", 1);
      (void)ignored;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  }
  long j = ::syscall(SYS_clone, static_cast<unsigned long>(SIGCHLD), 0, 0, 0, 0);
  if (j < 0) {
    report(f.report_w, LaunchReport::kError, 0, errno, "fork the joiner", nullptr);
    ::_exit(1);
  }
  if (j == 0) j_main(x);
  ::close(f.inner_w);
  LaunchReport r;
  ssize_t n;
  do {
    n = ::read(f.inner_r, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  int status = 0;
  while (::waitpid(static_cast<pid_t>(j), &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof r)) {
    report(f.report_w, LaunchReport::kError, 0, EPROTO, "the joiner died without reporting",
           nullptr);
    ::_exit(1);
  }
  if (r.kind != LaunchReport::kPid) {
    ssize_t ignored = ::write(f.report_w, &r, sizeof r);  // J's error, as it said it
    (void)ignored;
    ::_exit(1);
  }
  pid_t pid = r.pid;
  int err = 0;
  write_pid(f.sandbox_procs, f.n_sandbox_procs, pid, &err);
  if (err) {
    ::kill(pid, SIGKILL);
    report(f.report_w, LaunchReport::kError, pid, err, "join the sandbox's cgroup", nullptr);
    ::_exit(1);
  }
  if (!req.shim) {
    report(f.report_w, LaunchReport::kPid, pid, 0, nullptr, nullptr);
    ::_exit(0);
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0 || ::dup2(pidfd, f.pidfd_slot) != f.pidfd_slot) {
    ::kill(pid, SIGKILL);
    report(f.report_w, LaunchReport::kError, pid, errno, "pidfd of the exec'd process", nullptr);
    ::_exit(1);
  }
  ::close(pidfd);
  char digits[16];
  int nd = 0;
  for (unsigned v = static_cast<unsigned>(pid); nd == 0 || v; v /= 10)
    digits[nd++] = static_cast<char>('0' + v % 10);
  for (int i = 0; i < nd; ++i) req.pid_slot[i] = digits[nd - 1 - i];
  req.pid_slot[nd] = 0;
  for (int fd : req.shim_fds) ::fcntl(fd, F_SETFD, 0);
  for (int i = 0; i < 3; ++i) ::dup2(f.null_fd, i);
  report(f.report_w, LaunchReport::kPid, pid, 0, nullptr, nullptr);
  ::execve(req.shim_path, req.shim_argv.data(), req.shim_envp.data());
  ::kill(pid, SIGKILL);
  report(f.report_w, LaunchReport::kError, pid, errno, "exec svc-shim", nullptr);
  ::_exit(127);
}

int s0_main(void* arg) {
  auto* x = static_cast<ExecCtx*>(arg);
  long r = ::syscall(SYS_clone, static_cast<unsigned long>(SIGCHLD), 0, 0, 0, 0);
  if (r == 0) s_main(*x);
  x->fork_errno = r < 0 ? errno : 0;
  x->s_pid = static_cast<pid_t>(r);
  return 0;
}

std::vector<int> keep_list(const ExecLaunchRequest& req) {
  const ExecFds& f = req.child.fds;
  std::vector<int> keep = {f.report_w,     f.inner_r,      f.inner_w,  f.task_pidfd,
                           f.console_w,    f.console_r,    f.stdio[0], f.stdio[1],
                           f.stdio[2],     f.start_r,      f.start_w,  f.execerr_r,
                           f.execerr_w,    f.pidfd_slot,   f.ctl,      f.shim_side[0],
                           f.shim_side[1], f.shim_side[2], f.null_fd};
  for (int i = 0; i < f.n_sandbox_procs; ++i) keep.push_back(f.sandbox_procs[i]);
  for (int i = 0; i < f.n_shim_procs; ++i) keep.push_back(f.shim_procs[i]);
  keep.erase(std::remove_if(keep.begin(), keep.end(), [](int fd) { return fd < 0; }), keep.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  return keep;
}

}  // namespace

Result<Launched> launch_exec(ExecLaunchRequest& req, int report_r, int timeout_ms) {
  std::vector<int> keep = keep_list(req);
  std::size_t size = 2 * kStack;
  void* mem =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return fail_errno("mmap exec stacks");
  ExecCtx x;
  x.req = &req;
  x.keep = keep.data();
  x.n_keep = static_cast<int>(keep.size());
  x.p_stack_top = static_cast<char*>(mem) + size;  // P's stack, in J's copy of this mapping
  char* s0_stack_top = static_cast<char*>(mem) + kStack;
  // As launch.cpp: no handler of this process may run in s0, which shares our memory.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t s0 = ::clone(s0_main, s0_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &x);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (s0 < 0) {
    ::munmap(mem, size);
    return fail_errno(clone_errno, "clone the exec launcher");
  }
  int status = 0;
  while (::waitpid(s0, &status, 0) < 0 && errno == EINTR) {
  }
  ::munmap(mem, size);
  if (x.s_pid < 0) return fail_errno(x.fork_errno, "fork the exec helper");
  struct pollfd p = {report_r, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return fail(Code::kDeadlineExceeded, "the exec did not report within {} ms", timeout_ms);
  LaunchReport r;
  ssize_t n;
  do {
    n = ::read(report_r, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof r))
    return fail(Code::kInternal, "the exec helper exited without reporting");
  r.text[sizeof r.text - 1] = 0;
  if (r.kind == LaunchReport::kError) return tl::unexpected(sys_error(r.err, r.text));
  if (r.kind != LaunchReport::kPid || r.pid <= 0)
    return fail(Code::kInternal, "unexpected report from the exec helper");
  return Launched{x.s_pid, r.pid};
}

}  // namespace svc::isolation
