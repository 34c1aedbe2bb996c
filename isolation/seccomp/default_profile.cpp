// svc's default seccomp profile, as data. The shape follows the profiles Docker and Podman ship
// (an allow-list: whatever is not listed fails with EPERM), with the set narrowed where svc's
// promise ("as alone as in a microVM") asks for more than Docker gives a container without
// extra capabilities: no io_uring, no ptrace family, no name_to_handle_at, no clock adjusting.
//
// Every entry says why it is there. Allowed groups say what ordinary programs need them for;
// refused groups are listed too, even though the default action already refuses them, so the
// profile documents its decisions and stays a deny-list for them if someone flips the default
// (the compiler skips rules whose action equals the default: they produce no BPF).
//
// Names absent on an architecture (chown32 on x86_64, arch_prctl on arm64) or unknown to this
// libseccomp are skipped per architecture by the compiler.
#include <sched.h>

#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation::seccomp {

namespace {

constexpr int kEPERM = 1;
constexpr int kENOSYS = 38;
constexpr std::uint64_t kTIOCSTI = 0x5412;  // asm-generic/ioctls.h (x86, arm64)
constexpr std::uint64_t kSysSocket = 1;     // linux/net.h: socketcall's SYS_SOCKET

// clone(2) flags that create namespaces (include/uapi/linux/sched.h). CLONE_NEWTIME (0x80)
// overlaps clone's exit-signal byte and can only be used with unshare/clone3, both refused.
constexpr std::uint64_t kCloneNewMask = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                        CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                        CLONE_NEWNET;  // 0x7E020000

Rule allow(std::vector<std::string> names, std::string why) {
  return Rule{std::move(names), Action::kAllow, kEPERM, {}, std::move(why)};
}
Rule refuse(std::vector<std::string> names, std::string why, int err = kEPERM) {
  return Rule{std::move(names), Action::kErrno, err, {}, std::move(why)};
}
Rule allow_if(std::string name, ArgCondition cond, std::string why) {
  return Rule{{std::move(name)}, Action::kAllow, kEPERM, {cond}, std::move(why)};
}

Profile build() {
  Profile p;
  p.default_action = Action::kErrno;
  p.default_errno = kEPERM;
  p.architectures = native_architectures();
  auto& r = p.rules;

  // ---- allowed -------------------------------------------------------------------------
  r.push_back(allow({"exit", "exit_group", "fork", "vfork", "execve", "execveat", "wait4", "waitid",
                     "waitpid", "restart_syscall"},
                    "process lifecycle: run programs, wait for children, exit"));
  r.push_back(allow({"set_tid_address", "set_robust_list", "get_robust_list", "futex",
                     "futex_time64", "futex_waitv", "rseq", "gettid", "membarrier"},
                    "threads and their synchronisation, as libc and language runtimes use them"));
  r.push_back(allow({"arch_prctl", "set_thread_area", "get_thread_area", "modify_ldt"},
                    "x86 thread-local storage set-up (libc start-up; modify_ldt for Wine and old "
                    "threading libraries, as Docker allows)"));
  r.push_back(allow({"brk",          "mmap",         "mmap2",
                     "munmap",       "mremap",       "mprotect",
                     "madvise",      "mincore",      "msync",
                     "mlock",        "mlock2",       "mlockall",
                     "munlock",      "munlockall",   "remap_file_pages",
                     "pkey_alloc",   "pkey_free",    "pkey_mprotect",
                     "memfd_create", "memfd_secret", "process_mrelease"},
                    "memory management inside the sandbox's own address space (locking is "
                    "bounded by RLIMIT_MEMLOCK and the cgroup)"));
  r.push_back(
      allow({"read",    "write",       "readv",    "writev", "pread64", "pwrite64", "preadv",
             "preadv2", "pwritev",     "pwritev2", "open",   "openat",  "openat2",  "creat",
             "close",   "close_range", "dup",      "dup2",   "dup3",    "lseek",    "_llseek",
             "fcntl",   "fcntl64",     "flock",    "pipe",   "pipe2"},
            "file descriptors: open, read, write, duplicate, control"));
  // ioctl(2) with any request but TIOCSTI, which pushes bytes into a terminal's input queue: a
  // task given the user's terminal (run -it) could type commands into the user's shell after it
  // exits (CVE-2016-9016 class; Linux 6.2 made it optional with LEGACY_TIOCSTI). The kernel
  // reads the request as a 32-bit unsigned int (fs/ioctl.c), so 0x1_0000_5412 is TIOCSTI too:
  // the rule must look at the low 32 bits only. libseccomp has no "masked not-equal" and
  // refuses two conditions on one argument, so "low 32 bits != TIOCSTI" is written as its 32
  // alternatives, one rule each: "bit i of the request differs from bit i of TIOCSTI".
  for (unsigned bit = 0; bit < 32; ++bit) {
    const std::uint64_t mask = 1ull << bit;
    r.push_back(allow_if("ioctl", {1, ArgCondition::Op::kMaskedEq, mask, ~kTIOCSTI & mask},
                         "device control: every request but TIOCSTI (terminal input injection)"));
  }
  r.push_back(
      allow({"fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "fadvise64", "fadvise64_64",
             "readahead", "fallocate", "ftruncate", "ftruncate64", "truncate", "truncate64",
             "copy_file_range", "sendfile", "sendfile64", "splice", "tee", "vmsplice"},
            "file data: flushing, hints, sizes and in-kernel copies"));
  r.push_back(
      allow({"stat",       "stat64",    "lstat",     "lstat64",    "fstat",     "fstat64",
             "newfstatat", "fstatat64", "statx",     "statfs",     "statfs64",  "fstatfs",
             "fstatfs64",  "access",    "faccessat", "faccessat2", "getdents",  "getdents64",
             "getcwd",     "chdir",     "fchdir",    "readlink",   "readlinkat"},
            "looking at the file tree"));
  r.push_back(allow(
      {"mkdir",  "mkdirat", "rmdir",     "rename",    "renameat",         "renameat2", "link",
       "linkat", "symlink", "symlinkat", "unlink",    "unlinkat",         "mknod",     "mknodat",
       "umask",  "utime",   "utimes",    "utimensat", "utimensat_time64", "futimesat"},
      "changing the file tree (device nodes still need CAP_MKNOD and a device "
      "cgroup/namespace that allows them)"));
  r.push_back(allow({"chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown",
                     "fchown32", "fchownat", "lchown", "lchown32"},
                    "ownership and modes, checked by the kernel against the sandbox's user "
                    "namespace and capabilities"));
  r.push_back(
      allow({"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
             "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr"},
            "extended attributes (trusted.* and security.* still need capabilities)"));
  r.push_back(allow(
      {"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark"},
      "file change notification (fanotify_init, which needs CAP_SYS_ADMIN, is "
      "refused)"));
  r.push_back(allow({"chroot"},
                    "chroot inside the sandbox's own root; the kernel requires CAP_SYS_CHROOT, "
                    "which is in the default capability set as in Podman's"));
  r.push_back(allow({"select",
                     "_newselect",
                     "pselect6",
                     "pselect6_time64",
                     "poll",
                     "ppoll",
                     "ppoll_time64",
                     "epoll_create",
                     "epoll_create1",
                     "epoll_ctl",
                     "epoll_ctl_old",
                     "epoll_wait",
                     "epoll_wait_old",
                     "epoll_pwait",
                     "epoll_pwait2",
                     "eventfd",
                     "eventfd2",
                     "signalfd",
                     "signalfd4",
                     "timerfd_create",
                     "timerfd_settime",
                     "timerfd_settime64",
                     "timerfd_gettime",
                     "timerfd_gettime64"},
                    "waiting for I/O and events: every server's event loop"));
  r.push_back(allow({"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
                     "io_pgetevents", "io_pgetevents_time64"},
                    "Linux AIO (databases use it); io_uring is refused below"));
  r.push_back(
      allow({"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
             "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
             "sigaltstack", "sigprocmask", "sigreturn", "kill", "tkill", "tgkill", "pidfd_open",
             "pidfd_send_signal", "pause", "alarm"},
            "signals; the pid namespace limits whom they can reach"));
  r.push_back(
      allow({"clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
             "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time",
             "times", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_settime",
             "timer_settime64", "timer_gettime", "timer_gettime64", "timer_getoverrun"},
            "reading clocks and sleeping (setting clocks is refused below)"));
  r.push_back(
      allow({"getpid",      "getppid",   "getpgid",     "getpgrp",   "getsid",      "setpgid",
             "setsid",      "getuid",    "getuid32",    "geteuid",   "geteuid32",   "getgid",
             "getgid32",    "getegid",   "getegid32",   "getresuid", "getresuid32", "getresgid",
             "getresgid32", "getgroups", "getgroups32", "setuid",    "setuid32",    "setgid",
             "setgid32",    "setreuid",  "setreuid32",  "setregid",  "setregid32",  "setresuid",
             "setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32", "setfsuid",
             "setfsuid32",  "setfsgid",  "setfsgid32",  "capget",    "capset"},
            "process identity: ids within the sandbox's user namespace and capabilities "
            "within its bounding set (daemons drop privileges with these)"));
  r.push_back(allow({"getrlimit",
                     "ugetrlimit",
                     "setrlimit",
                     "prlimit64",
                     "getrusage",
                     "getpriority",
                     "setpriority",
                     "ioprio_get",
                     "ioprio_set",
                     "sched_yield",
                     "sched_getaffinity",
                     "sched_setaffinity",
                     "sched_getattr",
                     "sched_setattr",
                     "sched_getparam",
                     "sched_setparam",
                     "sched_getscheduler",
                     "sched_setscheduler",
                     "sched_get_priority_max",
                     "sched_get_priority_min",
                     "sched_rr_get_interval",
                     "sched_rr_get_interval_time64"},
                    "resource limits and scheduling of the sandbox's own processes (raising "
                    "limits or real-time priority still needs capabilities; the cgroup caps "
                    "CPU)"));
  r.push_back(allow({"uname", "sysinfo", "getrandom", "getcpu", "prctl", "seccomp",
                     "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"},
                    "system information, randomness, prctl, and a process restricting itself "
                    "further (seccomp and landlock only ever narrow what it may do)"));
  r.push_back(allow({"socketpair", "bind",        "connect",     "listen",          "accept",
                     "accept4",    "getsockname", "getpeername", "getsockopt",      "setsockopt",
                     "sendto",     "send",        "recv",        "recvfrom",        "sendmsg",
                     "recvmsg",    "sendmmsg",    "recvmmsg",    "recvmmsg_time64", "shutdown"},
                    "networking; the network namespace decides what can be reached"));
  r.push_back(allow_if("socket", {0, ArgCondition::Op::kNe, 40 /* AF_VSOCK */, 0},
                       "sockets of every family but AF_VSOCK, which reaches the host across "
                       "the network namespace (as Docker refuses it)"));
  // socketcall(2), i386's multiplexer for the socket calls, passes the real arguments in
  // memory, where seccomp cannot look: socketcall(SYS_SOCKET, {AF_VSOCK, ...}) would bypass the
  // family check above. Every call but SYS_SOCKET is allowed through it (their fds come from a
  // socket(2) that was checked); SYS_SOCKET fails with ENOSYS, so a libc falls back to the
  // direct i386 socket(2) (Linux 4.3+), whose family argument is checked like x86_64's. (The
  // compiler puts the SYS_SOCKET rule before libseccomp's program: compiler.cpp says why.)
  r.push_back(
      allow({"socketcall"}, "the i386 socket multiplexer, for every call but SYS_SOCKET (below)"));
  r.push_back(Rule{{"socketcall"},
                   Action::kErrno,
                   kENOSYS,
                   {{0, ArgCondition::Op::kEq, kSysSocket, 0}},
                   "socketcall(SYS_SOCKET) hides the family from seccomp: ENOSYS, so libc uses "
                   "socket(2)"});
  r.push_back(allow({"ipc",
                     "msgget",
                     "msgsnd",
                     "msgrcv",
                     "msgctl",
                     "semget",
                     "semop",
                     "semtimedop",
                     "semtimedop_time64",
                     "semctl",
                     "shmget",
                     "shmat",
                     "shmdt",
                     "shmctl",
                     "mq_open",
                     "mq_unlink",
                     "mq_timedsend",
                     "mq_timedsend_time64",
                     "mq_timedreceive",
                     "mq_timedreceive_time64",
                     "mq_notify",
                     "mq_getsetattr"},
                    "System V and POSIX IPC, confined by the IPC namespace"));
  r.push_back(allow_if("clone", {0, ArgCondition::Op::kMaskedEq, kCloneNewMask, 0},
                       "threads and processes (fork, pthread_create), but only when no "
                       "CLONE_NEW* flag is set: no namespaces from inside. Flags are argument 0 "
                       "on x86_64, i386 and arm64 (s390 differs)"));
  // personality(2): PER_LINUX, PER_LINUX32 (setarch linux32), UNAME26, both, and the query
  // 0xffffffff, as Docker allows; not READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE.
  for (std::uint64_t v : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull})
    r.push_back(allow_if("personality", {0, ArgCondition::Op::kEq, v, 0},
                         "execution domains that do not weaken ASLR or W^X"));

  // ---- refused (documentation; the default action already refuses them) ----------------
  r.push_back(refuse({"clone3"},
                     "clone3 passes its flags in memory, where seccomp cannot look: refuse it "
                     "with ENOSYS so libcs fall back to clone, whose flags are checked above",
                     kENOSYS));
  r.push_back(refuse({"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount",
                      "fspick", "move_mount", "open_tree", "mount_setattr"},
                     "mounting, old and new mount API: the sandbox's mounts are fixed by the "
                     "runtime (mount tricks are the classic container escape)"));
  r.push_back(refuse({"unshare", "setns"}, "no new or foreign namespaces from inside"));
  r.push_back(refuse({"keyctl", "add_key", "request_key"},
                     "the kernel keyring is not namespaced: keys would be shared with the host"));
  r.push_back(refuse({"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie"},
                     "large kernel attack surface and host-wide observation (userfaultfd is a "
                     "common exploit primitive)"));
  r.push_back(refuse({"io_uring_setup", "io_uring_enter", "io_uring_register"},
                     "io_uring bypasses seccomp for the operations it runs and has had many "
                     "privilege escalations"));
  r.push_back(refuse({"kexec_load", "kexec_file_load", "reboot", "init_module", "finit_module",
                      "delete_module", "create_module", "get_kernel_syms", "query_module"},
                     "the host's kernel is not the sandbox's to replace, reboot or extend"));
  r.push_back(refuse({"open_by_handle_at", "name_to_handle_at"},
                     "file handles open files by inode, bypassing the mount namespace "
                     "(the \"shocker\" escape)"));
  r.push_back(refuse(
      {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"},
      "reaching into other processes' memory and fds (Docker refuses these "
      "without CAP_SYS_PTRACE)"));
  r.push_back(refuse({"settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex",
                      "clock_adjtime", "clock_adjtime64"},
                     "the clock is the host's: setting or tuning it is not the sandbox's call"));
  r.push_back(refuse({"swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "nfsservctl",
                      "syslog", "vhangup", "sethostname", "setdomainname"},
                     "host administration (the UTS name is set by the runtime)"));
  r.push_back(
      refuse({"iopl", "ioperm", "vm86", "vm86old"}, "direct hardware and real-mode access"));
  r.push_back(refuse({"mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node",
                      "migrate_pages", "move_pages"},
                     "NUMA placement of memory, including other processes' (Docker: only with "
                     "CAP_SYS_NICE)"));
  r.push_back(refuse({"fanotify_init"}, "whole-mount file monitoring (needs CAP_SYS_ADMIN)"));
  r.push_back(refuse({"uselib", "ustat", "sysfs", "_sysctl"},
                     "obsolete interfaces with no modern user and a history of bugs"));
  return p;
}

}  // namespace

const Profile& default_profile() {
  static const Profile profile = build();
  return profile;
}

}  // namespace svc::isolation::seccomp
