// sandbox-probe: a static helper the isolation tests copy into a sandbox's root to try, from
// inside, what a hostile task would try. Each command prints "name=result" lines; the tests
// parse them. Results are errno names ("EPERM") or "ok" when the attempt succeeded.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace {

const char* name(int err) {
  if (err == 0) return "ok";
  const char* n = strerrorname_np(err);
  return n ? n : "E?";
}

// Runs fn in a child so that an unexpected success changes nothing here; prints the result.
template <class Fn>
void attempt(const char* what, Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    errno = 0;
    long rc = fn();
    _exit(rc < 0 ? (errno ? errno : 255) : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status))
    printf("%s=%s\n", what, name(WEXITSTATUS(status)));
  else
    printf("%s=signal%d\n", what, WTERMSIG(status));
}

int syscalls(const char* host_marker) {
  attempt("mount", [] { return static_cast<long>(mount("none", "/tmp", "tmpfs", 0, nullptr)); });
  attempt("umount", [] { return static_cast<long>(umount2("/proc", MNT_DETACH)); });
  attempt("unshare_user", [] { return static_cast<long>(unshare(CLONE_NEWUSER)); });
  attempt("unshare_mount", [] { return static_cast<long>(unshare(CLONE_NEWNS)); });
  attempt("setns", [] {
    int fd = open("/proc/self/ns/net", O_RDONLY);
    return static_cast<long>(setns(fd, CLONE_NEWNET));
  });
  attempt("clone_newuser", [] {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    return r < 0 ? r : 0L;
  });
  attempt("clone3", [] { return syscall(435 /* clone3 */, nullptr, 0); });
  attempt("keyctl",
          [] { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1); });
  attempt("add_key", [] {
    return syscall(SYS_add_key, "user", "svc-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
  });
  attempt("bpf", [] {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
  });
  attempt("perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); });
  attempt("userfaultfd", [] { return syscall(SYS_userfaultfd, 0); });
  attempt("io_uring_setup", [] { return syscall(425 /* io_uring_setup */, 1, nullptr); });
  attempt("reboot", [] {
    return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF,
                   nullptr);
  });
  attempt("kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0); });
  attempt("init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); });
  attempt("open_by_handle_at", [] {
    char buf[128] = {0};
    return syscall(SYS_open_by_handle_at, AT_FDCWD, buf, O_RDONLY);
  });
  attempt("mknod",
          [] { return static_cast<long>(mknod("/tmp/null2", S_IFCHR | 0666, makedev(1, 3))); });
  attempt("chroot_escape", [host_marker] {
    // The classic: chroot into a subdir and climb out with ".." — must stay inside.
    mkdir("/tmp/jail", 0755);
    if (chroot("/tmp/jail") != 0) return -1L;
    for (int i = 0; i < 64; ++i)
      if (chdir("..") != 0) return -1L;
    chroot(".");
    return access(host_marker, F_OK) == 0 ? 0L : -1L;
  });
  return 0;
}

#if defined(__x86_64__)
// An i386 system call through the 32-bit entry, from this 64-bit program (IA32 emulation).
// Pointer arguments must then lie below 4 GiB (see low_page).
long int80(long nr, long a = 0, long b = 0, long c = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c)
               : "memory", "r8", "r9", "r10", "r11");
  return ret;
}
#endif

// Prints what= the errno of a raw syscall result (-errno or >= 0), closing an fd it made.
void report_raw(const char* what, long rc) {
  if (rc >= 0) close(static_cast<int>(rc));
  printf("%s=%s\n", what, name(rc < 0 ? static_cast<int>(-rc) : 0));
}

// AF_VSOCK reaches the host past the network namespace: every way of making one must fail,
// also i386's socketcall(SYS_SOCKET), whose arguments seccomp cannot see. AF_INET is the
// control: it works through the direct calls.
int vsock() {
  constexpr long kAfVsock = 40;
  errno = 0;
  long rc = socket(kAfVsock, SOCK_STREAM, 0);
  report_raw("x86_64_socket_vsock", rc < 0 ? -errno : rc);
  rc = socket(AF_INET, SOCK_STREAM, 0);
  report_raw("x86_64_socket_inet", rc < 0 ? -errno : rc);
#if defined(__x86_64__)
  if (int80(20 /* i386 getpid */) != getpid()) {
    printf("i386=absent\n");
    return 0;
  }
  // socketcall's argument block, in memory an i386 pointer can name.
  void* low =
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return 1;
  auto* args = static_cast<unsigned int*>(low);
  constexpr long kI386Socketcall = 102, kI386Socket = 359, kSysSocket = 1;
  args[0] = kAfVsock;
  args[1] = SOCK_STREAM;
  args[2] = 0;
  report_raw("i386_socketcall_vsock",
             int80(kI386Socketcall, kSysSocket, reinterpret_cast<long>(args)));
  report_raw("i386_socket_vsock", int80(kI386Socket, kAfVsock, SOCK_STREAM, 0));
  args[0] = AF_INET;
  report_raw("i386_socketcall_inet",
             int80(kI386Socketcall, kSysSocket, reinterpret_cast<long>(args)));
  report_raw("i386_socket_inet", int80(kI386Socket, AF_INET, SOCK_STREAM, 0));
  munmap(low, 4096);
#endif
  return 0;
}

// TIOCSTI pushes bytes into a terminal's input: refused, in both spellings of the request (the
// kernel reads it as 32 bits, so one with high bits set is TIOCSTI too). The probe makes a pty
// its controlling terminal first, so without a filter the kernel would allow it
// (dev.tty.legacy_tiocsti=1). TIOCGWINSZ on the same tty is the control.
int tiocsti() {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    printf("pty=%s\n", name(errno));
    return 1;
  }
  const char* slave_name = ptsname(master);
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int slave = open(slave_name, O_RDWR);
    if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0) {
      printf("ctty=%s\n", name(errno));
      _exit(1);
    }
    char c = 'x';
    long rc = syscall(SYS_ioctl, slave, 0x5412UL, &c);
    printf("tiocsti=%s\n", name(rc < 0 ? errno : 0));
    rc = syscall(SYS_ioctl, slave, 0x100005412UL, &c);
    printf("tiocsti_high_bits=%s\n", name(rc < 0 ? errno : 0));
    struct winsize ws {};
    rc = ioctl(slave, TIOCGWINSZ, &ws);
    printf("tiocgwinsz=%s\n", name(rc < 0 ? errno : 0));
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  return 0;
}

// TIOCSTI on the process's own stdin (its terminal under `svctl run -it`): each byte of a
// command it would type into whoever reads that terminal. Prints how the first one went.
int tiocsti_stdin() {
  const char* keys = "echo INJECTED\n";
  long rc = 0;
  int err = 0;
  for (const char* p = keys; *p && rc == 0; ++p) {
    rc = syscall(SYS_ioctl, 0, 0x5412UL, p);
    if (rc < 0) err = errno;
  }
  printf("tiocsti_stdin=%s\n", name(rc < 0 ? err : 0));
  return 0;
}

int fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 1;
  int self = dirfd(d);
  printf("fds=");
  bool first = true;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (atoi(e->d_name) == self) continue;
    printf("%s%s", first ? "" : ",", e->d_name);
    first = false;
  }
  printf("\n");
  closedir(d);
  return 0;
}

int caps() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 1;
  char line[256];
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "NoNewPrivs", 10) == 0 ||
        strncmp(line, "Seccomp:", 8) == 0 || strncmp(line, "Uid:", 4) == 0)
      fputs(line, stdout);
  fclose(f);
  return 0;
}

int ids() {
  printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid());
  return 0;
}

// Tries to write every reachable process's executable (the /proc/self/exe class of escapes).
int exe() {
  DIR* d = opendir("/proc");
  if (!d) return 1;
  char path[300];
  auto one = [&](const char* label, const char* p) {
    int fd = open(p, O_WRONLY | O_APPEND);
    if (fd < 0) {
      printf("%s=%s\n", label, name(errno));
      return;
    }
    ssize_t n = write(fd, "X", 1);
    printf("%s=%s\n", label, n == 1 ? "WRITTEN" : name(errno));
    close(fd);
  };
  one("self", "/proc/self/exe");
  snprintf(path, sizeof path, "/proc/%d/exe", getppid());
  one("parent", getppid() > 0 ? path : "/proc/0/exe");
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
    char label[300];
    snprintf(label, sizeof label, "pid%s", e->d_name);
    one(label, path);
  }
  closedir(d);
  return 0;
}

int hog(long mib) {
  for (long i = 0; i < mib; ++i) {
    char* p = static_cast<char*>(malloc(1 << 20));
    if (!p) {
      printf("hog=ENOMEM at %ld\n", i);
      return 1;
    }
    memset(p, 1, 1 << 20);
  }
  printf("hog=done\n");
  return 0;
}

int spin(long ms) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; ++i) x = x + static_cast<unsigned long>(i);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
  printf("spin=done\n");
  return 0;
}

int forkbomb(int max) {
  int n = 0;
  for (; n < max; ++n) {
    pid_t p = fork();
    if (p < 0) break;
    if (p == 0) {
      pause();
      _exit(0);
    }
  }
  printf("forked=%d\n", n);
  fflush(stdout);
  return 0;
}

int serve(int port, const char* text) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 16) != 0) {
    printf("serve=%s\n", name(errno));
    return 1;
  }
  printf("serve=listening\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, nullptr, nullptr);
    if (c < 0) continue;
    ssize_t ignored = write(c, text, strlen(text));
    (void)ignored;
    close(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc < 2) {
    fprintf(stderr,
            "usage: sandbox-probe syscalls|vsock|tiocsti|tiocsti-stdin|fds|caps|ids|exe|hog "
            "MiB|spin ms|"
            "forkbomb N|serve PORT TEXT\n");
    return 2;
  }
  const char* cmd = argv[1];
  if (!strcmp(cmd, "syscalls")) return syscalls(argc > 2 ? argv[2] : "/nonexistent");
  if (!strcmp(cmd, "fds")) return fds();
  if (!strcmp(cmd, "vsock")) return vsock();
  if (!strcmp(cmd, "tiocsti")) return tiocsti();
  if (!strcmp(cmd, "tiocsti-stdin")) return tiocsti_stdin();
  if (!strcmp(cmd, "caps")) return caps();
  if (!strcmp(cmd, "ids")) return ids();
  if (!strcmp(cmd, "exe")) return exe();
  if (!strcmp(cmd, "hog") && argc > 2) return hog(atol(argv[2]));
  if (!strcmp(cmd, "spin") && argc > 2) return spin(atol(argv[2]));
  if (!strcmp(cmd, "forkbomb") && argc > 2) return forkbomb(atoi(argv[2]));
  if (!strcmp(cmd, "serve") && argc > 3) return serve(atoi(argv[2]), argv[3]);
  fprintf(stderr, "sandbox-probe: unknown command %s\n", cmd);
  return 2;
}
