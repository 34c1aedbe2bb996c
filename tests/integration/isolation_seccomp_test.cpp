// The compiled default seccomp program in a real process (root, so that a refused call would
// otherwise succeed): each check runs in a forked child that sets no_new_privs, loads the
// program and reports every surprise back over a pipe. The 32-bit ABIs are checked by issuing
// i386 system calls with `int $0x80` and x32 ones with the x32 bit from this x86_64 program.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/seccomp/seccomp.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::isolation::seccomp;

namespace {

// strerror, but thread-safe.
std::string err_text(int err) { return std::generic_category().message(err); }

bool need_root() {
  if (::geteuid() == 0) return true;
  svc::test::report_skip(
      "seccomp integration tests need root (refused calls must be ones root could otherwise "
      "make)");
  return false;
}

std::shared_ptr<const Program> default_program() {
  static Compiler compiler;
  auto p = compiler.compile(default_profile());
  if (!p) FAIL("compile the default profile: " << p.error().message());
  return *p;
}

struct ChildResult {
  int status = -1;
  std::string report;  // one line per failed expectation
};

// Runs body(report) in a forked child after no_new_privs + load(program). The child exits 0
// when body appended nothing to report. The child first enters its own mount namespace with
// private propagation, so that a filter that wrongly let mount or pivot_root through could
// not change the host's mounts; a child that does not finish within 30 s is killed.
template <class Body>
ChildResult in_filtered_child(const Program* program, Body body) {
  int pipefd[2];
  REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT, SIGSYS}) ::signal(sig, SIG_DFL);
    std::string report;
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      report += fmt::format("private mount namespace: {}\n", err_text(errno));
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report += "prctl(NO_NEW_PRIVS) failed\n";
    if (program) {
      int rc = load(*program);
      if (rc != 0) report += fmt::format("load: {}\n", err_text(-rc));
    }
    if (report.empty()) body(report);
    (void)!::write(pipefd[1], report.data(), report.size());
    ::_exit(report.empty() ? 0 : 1);
  }
  ::close(pipefd[1]);
  ChildResult r;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    struct pollfd p {
      pipefd[0], POLLIN, 0
    };
    if (left <= 0 || ::poll(&p, 1, left) == 0) {
      r.report += "the child did not finish within 30 s (killed)\n";
      ::kill(pid, SIGKILL);
      break;
    }
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.report.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

// Appends to report unless `rc` is -1 with errno `want`.
void expect_errno(std::string& report, const char* what, long rc, int err, int want) {
  if (rc == -1 && err == want) return;
  report += fmt::format("{}: returned {} errno {} ({}), expected {}\n", what, rc, err,
                        err_text(err), err_text(want));
}
#define EXPECT_ERRNO(report, expr, want)           \
  do {                                             \
    errno = 0;                                     \
    long rc_ = (expr);                             \
    expect_errno(report, #expr, rc_, errno, want); \
  } while (0)

// A clone-like call: a child that appeared must leave at once and not be counted as success.
void expect_clone_refused(std::string& report, const char* what, long rc, int err, int want) {
  if (rc == 0) ::_exit(0);  // we are the unexpected child
  if (rc > 0) ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
  expect_errno(report, what, rc, err, want);
}

#if defined(__x86_64__)
// i386 system call through the 32-bit entry (int 0x80), usable from 64-bit code when the kernel
// has IA32 emulation. r8-r11 are clobbered by the kernel on this path.
long int80(long nr, long a = 0, long b = 0, long c = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a), "c"(b), "d"(c)
               : "memory", "r8", "r9", "r10", "r11");
  return ret;
}
constexpr long kI386Getpid = 20;
constexpr long kI386Mount = 21;
constexpr long kI386Unshare = 310;
constexpr long kI386Socketcall = 102;
constexpr long kI386Socket = 359;
constexpr long kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT
#endif

}  // namespace

TEST_CASE("seccomp default: namespace, mount, keyring, bpf and perf calls are refused",
          "[seccomp][integration][security]") {
  if (!need_root()) return;
  auto program = default_program();
  TempDir scratch("svc-seccomp-test-");
  const std::string target = scratch.path().string();
  auto r = in_filtered_child(program.get(), [&](std::string& report) {
    EXPECT_ERRNO(report, ::mount("none", target.c_str(), "tmpfs", 0, nullptr), EPERM);
    EXPECT_ERRNO(report, ::umount2(target.c_str(), 0), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_fsopen, "tmpfs", 0), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_open_tree, AT_FDCWD, "/", 0), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_pivot_root, "/", "/"), EPERM);
    EXPECT_ERRNO(report, ::unshare(CLONE_NEWUSER), EPERM);
    EXPECT_ERRNO(report, ::unshare(CLONE_NEWNS), EPERM);
    EXPECT_ERRNO(report, ::setns(0, 0), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0),
                 EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_add_key, "user", "svc", "x", 1, KEY_SPEC_SESSION_KEYRING),
                 EPERM);
    union bpf_attr attr {};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    EXPECT_ERRNO(report, ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr), EPERM);
    struct perf_event_attr pe {};
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_SW_CPU_CLOCK;
    EXPECT_ERRNO(report, ::syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_userfaultfd, 0), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_io_uring_setup, 1, nullptr), EPERM);
    // ptrace in a grandchild that exits at once: were it allowed, a traced process that is
    // never waited on by its tracer would otherwise hang this child.
    pid_t tracee = ::fork();
    if (tracee == 0) {
      errno = 0;
      long rc = ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
      ::_exit(rc == -1 && errno == EPERM ? 0 : 1);
    }
    int tstatus = 0;
    if (tracee < 0 || ::waitpid(tracee, &tstatus, 0) != tracee || !WIFEXITED(tstatus) ||
        WEXITSTATUS(tstatus) != 0)
      report += "ptrace(PTRACE_TRACEME) was not refused with EPERM\n";
    // Bad magic: without the filter this is EINVAL, so EPERM proves the filter decided.
    EXPECT_ERRNO(report, ::syscall(SYS_reboot, 0, 0, 0, nullptr), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_clock_settime, 12345, nullptr), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */), EPERM);
    EXPECT_ERRNO(report, ::socket(40 /* AF_VSOCK */, SOCK_STREAM, 0), EPERM);
    errno = 0;
    long rc = ::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    expect_clone_refused(report, "clone(CLONE_NEWNS)", rc, errno, EPERM);
    errno = 0;
    rc = ::syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    expect_clone_refused(report, "clone(CLONE_NEWUSER|CLONE_NEWPID)", rc, errno, EPERM);
    struct clone_args ca {};
    ca.exit_signal = SIGCHLD;
    errno = 0;
    rc = ::syscall(SYS_clone3, &ca, sizeof ca);
    expect_clone_refused(report, "clone3", rc, errno, ENOSYS);
  });
  INFO(r.report);
  CHECK(r.report.empty());
  CHECK((WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0));
}

TEST_CASE("seccomp default: ordinary programs still work", "[seccomp][integration]") {
  if (!need_root()) return;
  auto program = default_program();
  TempDir scratch("svc-seccomp-test-");
  const std::string file = (scratch.path() / "data").string();
  auto r = in_filtered_child(program.get(), [&](std::string& report) {
    if (::syscall(SYS_getpid) != ::getpid()) report += "getpid\n";
    int fd = ::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    char buf[6] = {0};
    if (fd < 0 || ::write(fd, "hello", 5) != 5 || ::pread(fd, buf, 5, 0) != 5 ||
        std::string(buf) != "hello")
      report += fmt::format("open/write/read: {}\n", err_text(errno));
    if (fd >= 0) ::close(fd);
    // fork (clone without namespace flags)
    pid_t child = ::fork();
    if (child == 0) ::_exit(7);
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 7)
      report += fmt::format("fork: {}\n", err_text(errno));
    // execve of /bin/true
    pid_t exec_child = ::fork();
    if (exec_child == 0) {
      char* const argv[] = {const_cast<char*>("true"), nullptr};
      ::execv("/bin/true", argv);
      ::_exit(127);
    }
    if (exec_child < 0 || ::waitpid(exec_child, &status, 0) != exec_child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      report += fmt::format("execve /bin/true: status {}\n", status);
    // A thread: glibc tries clone3, gets ENOSYS, falls back to clone.
    std::atomic<bool> ran{false};
    try {
      std::thread t([&] { ran = true; });
      t.join();
    } catch (const std::exception& e) {
      report += fmt::format("std::thread: {}\n", e.what());
    }
    if (!ran) report += "thread did not run\n";
    if (::syscall(SYS_personality, 0xffffffff) < 0) report += "personality query\n";
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
      report += fmt::format("socket(AF_INET): {}\n", err_text(errno));
    else
      ::close(s);
  });
  INFO(r.report);
  CHECK(r.report.empty());
  CHECK((WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0));
}

TEST_CASE("seccomp: without the filter the same calls succeed (the checks can fail)",
          "[seccomp][integration]") {
  if (!need_root()) return;
  auto r = in_filtered_child(nullptr, [](std::string& report) {
    if (::unshare(CLONE_NEWNS) != 0) report += fmt::format("unshare: {}\n", err_text(errno));
    errno = 0;
    if (::syscall(SYS_reboot, 0, 0, 0, nullptr) != -1 || errno != EINVAL)
      report += fmt::format("reboot with bad magic: {}\n", err_text(errno));
  });
  INFO(r.report);
  CHECK(r.report.empty());
}

#if defined(__x86_64__)
TEST_CASE("seccomp default: the refusals hold through the i386 and x32 ABIs",
          "[seccomp][integration][security]") {
  if (!need_root()) return;
  if (int80(kI386Getpid) != ::getpid())
    SVC_SKIP("this kernel has no IA32 emulation (int 0x80 does not reach getpid)");
  auto program = default_program();
  TempDir scratch("svc-seccomp-test-");
  const std::string target = scratch.path().string();
  auto r = in_filtered_child(program.get(), [&](std::string& report) {
    if (int80(kI386Getpid) != ::getpid()) report += "i386 getpid was not allowed\n";
    long rc = int80(kI386Unshare, CLONE_NEWUSER);
    if (rc != -EPERM) report += fmt::format("i386 unshare(CLONE_NEWUSER): {}\n", rc);
    rc = int80(kI386Mount, reinterpret_cast<long>("none"), reinterpret_cast<long>(target.c_str()),
               reinterpret_cast<long>("tmpfs"));
    if (rc != -EPERM) report += fmt::format("i386 mount: {}\n", rc);
    errno = 0;
    rc = ::syscall(kX32Bit | SYS_unshare, CLONE_NEWUSER);
    expect_errno(report, "x32 unshare(CLONE_NEWUSER)", rc, errno, EPERM);
  });
  INFO(r.report);
  CHECK(r.report.empty());
  CHECK((WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0));
}

TEST_CASE("seccomp default: ioctl(TIOCSTI) is refused in both spellings, other requests pass",
          "[seccomp][integration][security]") {
  if (!need_root()) return;
  auto program = default_program();
  auto r = in_filtered_child(program.get(), [&](std::string& report) {
    char c = 'x';
    // fd -1: without the filter both fail with EBADF, so EPERM is the filter's answer.
    EXPECT_ERRNO(report, ::syscall(SYS_ioctl, -1, 0x5412UL, &c), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_ioctl, -1, 0x100005412UL, &c), EPERM);
    EXPECT_ERRNO(report, ::syscall(SYS_ioctl, -1, 0x5413UL /* TIOCGWINSZ */, &c), EBADF);
    EXPECT_ERRNO(report, ::syscall(SYS_ioctl, -1, 0x5401UL /* TCGETS */, &c), EBADF);
  });
  INFO(r.report);
  CHECK(r.report.empty());
}

TEST_CASE("seccomp: conditions repeated on one argument mean any of them, as in runc",
          "[seccomp][integration]") {
  if (!need_root()) return;
  // Docker-style: personality allowed for three values listed in one entry.
  auto profile = parse_oci_profile(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 131080, "op": "SCMP_CMP_EQ"}]}]})");
  REQUIRE(profile);
  Compiler compiler;
  auto program = compiler.compile(*profile);
  INFO((program ? std::string() : program.error().message()));
  REQUIRE(program);
  auto r = in_filtered_child(program->get(), [&](std::string& report) {
    for (long v : {0x8L, 0x20000L, 0x20008L})
      EXPECT_ERRNO(report, ::syscall(SYS_personality, v), EPERM);
    if (::syscall(SYS_personality, 0xffffffffL) < 0) report += "personality query refused\n";
    if (::syscall(SYS_personality, 0x0L) < 0) report += "personality(PER_LINUX) refused\n";
  });
  INFO(r.report);
  CHECK(r.report.empty());
}

#if defined(__x86_64__)
TEST_CASE("seccomp default: i386 socketcall(SYS_SOCKET) cannot make an AF_VSOCK socket",
          "[seccomp][integration][security]") {
  if (!need_root()) return;
  if (int80(kI386Getpid) != ::getpid()) SVC_SKIP("this kernel has no IA32 emulation");
  auto program = default_program();
  auto r = in_filtered_child(program.get(), [&](std::string& report) {
    void* low = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    auto* args = static_cast<unsigned*>(low);
    args[0] = 40;  // AF_VSOCK
    args[1] = SOCK_STREAM;
    args[2] = 0;
    long rc = int80(kI386Socketcall, 1 /* SYS_SOCKET */, reinterpret_cast<long>(args));
    if (rc != -ENOSYS) report += fmt::format("i386 socketcall(SYS_SOCKET, AF_VSOCK): {}\n", rc);
    rc = int80(kI386Socket, 40, SOCK_STREAM, 0);
    if (rc != -EPERM) report += fmt::format("i386 socket(AF_VSOCK): {}\n", rc);
    rc = int80(kI386Socket, AF_UNIX, SOCK_STREAM, 0);
    if (rc < 0) report += fmt::format("i386 socket(AF_UNIX): {}\n", rc);
    // Other socketcall calls still pass (here on a bad fd: EBADF from the kernel, not EPERM).
    args[0] = static_cast<unsigned>(-1);
    rc = int80(kI386Socketcall, 13 /* SYS_SHUTDOWN */, reinterpret_cast<long>(args));
    if (rc != -EBADF) report += fmt::format("i386 socketcall(SYS_SHUTDOWN, -1): {}\n", rc);
  });
  INFO(r.report);
  CHECK(r.report.empty());
}
#endif

TEST_CASE("seccomp: an ABI the profile does not list kills the process", "[seccomp][integration]") {
  if (!need_root()) return;
  if (int80(kI386Getpid) != ::getpid()) SVC_SKIP("this kernel has no IA32 emulation");
  Profile only_native = default_profile();
  only_native.architectures = {"SCMP_ARCH_X86_64"};
  Compiler compiler;
  auto program = compiler.compile(only_native);
  REQUIRE(program);
  auto r = in_filtered_child(program->get(), [](std::string&) { int80(kI386Getpid); });
  CHECK(WIFSIGNALED(r.status));
  CHECK(WTERMSIG(r.status) == SIGSYS);
}
#endif

TEST_CASE("seccomp: TSYNC installs the filter in every thread", "[seccomp][integration]") {
  if (!need_root()) return;
  auto program = default_program();
  auto r = in_filtered_child(nullptr, [&](std::string& report) {
    std::atomic<int> phase{0};
    std::atomic<long> thread_rc{0};
    std::atomic<int> thread_errno{0};
    std::thread t([&] {
      while (phase.load() == 0) std::this_thread::yield();
      errno = 0;
      thread_rc = ::unshare(CLONE_NEWNS);
      thread_errno = errno;
    });
    int rc = load(*program, /*tsync=*/true);
    if (rc != 0) report += fmt::format("load with TSYNC: {}\n", err_text(-rc));
    phase = 1;
    t.join();
    expect_errno(report, "unshare in the other thread", thread_rc, thread_errno, EPERM);
  });
  INFO(r.report);
  CHECK(r.report.empty());
}
