// svc-init: a minimal init for a sandbox's PID 1 (`svctl run --init`, as `docker run --init`).
// The kernel gives the first process of a pid namespace no default signal actions: a shell or
// `sleep` as PID 1 ignores SIGTERM and waits out the stop grace period, and nobody reaps the
// zombies of processes orphaned inside. svc-init runs the command as its child, passes every
// signal it gets on to it, reaps every child that ends, and exits with the command's status
// (128+N when signal N ended it) as soon as the command ends.
//
// It is bind-mounted read-only from the host, outside the image, and is the task's program: it
// runs with the task's credentials, capabilities and seccomp filter, after the runtime's execve,
// so "no runtime code runs in the sandbox before execve" holds with it too. Static, no heap:
// nothing of the image (its libc, its loader) is used.
// NOLINTBEGIN(concurrency-mt-unsafe): single-threaded.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace {

// Signals that report a fault in svc-init itself keep their default action.
bool synchronous(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP ||
         sig == SIGSYS || sig == SIGABRT;
}

[[noreturn]] void run_child(char** argv, const sigset_t& original) {
  // Its own process group, the terminal's foreground one when there is a terminal: Ctrl-C then
  // reaches the command (and its children) from the line discipline, not svc-init.
  setpgid(0, 0);
  if (isatty(STDIN_FILENO)) {
    signal(SIGTTOU, SIG_IGN);
    tcsetpgrp(STDIN_FILENO, getpgrp());
    signal(SIGTTOU, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, &original, nullptr);
  execvp(argv[0], argv);
  int err = errno;
  dprintf(STDERR_FILENO, "svc-init: exec %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) ++first;
  if (first >= argc) {
    dprintf(STDERR_FILENO,
            "usage: svc-init [--] COMMAND [ARGS...]\n"
            "Runs COMMAND as its child, forwards signals to it, reaps zombies, and exits with\n"
            "COMMAND's status. svcd uses it as a task's PID 1 with `svctl run --init`.\n");
    return 2;
  }
  // Orphans are reparented here even when svc-init is not PID 1.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigset_t all, original;
  sigfillset(&all);
  for (int sig = 1; sig < NSIG; ++sig)
    if (synchronous(sig)) sigdelset(&all, sig);
  sigprocmask(SIG_SETMASK, &all, &original);

  pid_t child = fork();
  if (child < 0) {
    dprintf(STDERR_FILENO, "svc-init: fork: %s\n", strerror(errno));
    return 126;
  }
  if (child == 0) run_child(argv + first, original);

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      // To the command only, as tini does: it decides what its own children get.
      kill(child, sig);
      continue;
    }
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid != child) continue;  // a reaped orphan
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
  }
}
// NOLINTEND(concurrency-mt-unsafe)
