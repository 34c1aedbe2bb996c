// The cgroup drivers against the real kernel (root): limits are enforced on real processes, OOM
// kills are counted, kill_all stops a fork bomb, and remove() leaves nothing behind. Every test
// works below a base named after this process ("svc-test-<pid>"), so helpers running tests at
// the same time never collide, and a guard removes it all even when a check fails.
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/host_probe.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::isolation;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path kCgroupRoot = "/sys/fs/cgroup";

std::string describe(const Error& e) {
  return std::string(code_name(e.code())) + ": " + e.message();
}
#define REQUIRE_OK(expr)                                         \
  do {                                                           \
    auto&& r_ = (expr);                                          \
    if (!r_) FAIL(#expr << " failed: " << describe(r_.error())); \
  } while (0)

bool need_root() {
  if (::geteuid() == 0) return true;
  svc::test::report_skip("cgroup integration tests need root (run ctest as root)");
  return false;
}

// Every directory named `base` below a hierarchy of /sys/fs/cgroup (v1 mounts and unified).
std::vector<fs::path> base_dirs(const std::string& base) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& h : fs::directory_iterator(kCgroupRoot, ec))
    if (fs::exists(h.path() / base, ec)) out.push_back(h.path() / base);
  return out;
}

// Waits for a child's exit; -1 on timeout (the guard kills it later).
int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -2;
    ::usleep(2000);
  }
  return -1;
}

// The sandbox's cgroup for one test, plus the processes started in it. The destructor kills
// them, removes the cgroup and the per-process base in every hierarchy, and reaps everything
// (the test process is a child subreaper meanwhile, so a fork bomb's orphans come back to it
// rather than to pid 1).
class TestCgroup {
 public:
  explicit TestCgroup(std::unique_ptr<CgroupDriver> driver, std::string base)
      : driver_(std::move(driver)), base_(std::move(base)) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  ~TestCgroup() {
    for (const auto& leaf : leaves_) {
      (void)driver_->kill_all(leaf, SIGKILL);
      for (pid_t p : children_) ::kill(p, SIGKILL);
      reap_all(2s);
      auto r = driver_->remove(leaf);
      if (!r) WARN("cleanup: " << describe(r.error()));
    }
    for (pid_t p : children_) ::kill(p, SIGKILL);
    reap_all(2s);
    for (const auto& d : base_dirs(base_))
      if (::rmdir(d.c_str()) != 0)
        WARN("cleanup: rmdir " << d << ": " << std::generic_category().message(errno));
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  CgroupDriver& driver() { return *driver_; }
  const std::string& base() const { return base_; }

  Result<> create(const std::string& leaf, const CgroupLimits& limits) {
    SVC_TRY(driver_->create(leaf, limits));
    leaves_.push_back(leaf);
    return {};
  }

  // Forks a child that joins the cgroup through the procs files before running `work`, as the
  // runtime's cloned child does between clone() and execve().
  template <class Work>
  pid_t spawn(const std::string& leaf, Work work) {
    auto fds = driver_->open_procs_files(leaf);
    REQUIRE(fds);
    return spawn_with(*fds, work);
  }
  // A child outside the cgroup (for add_process), ready when this returns.
  template <class Work>
  pid_t spawn_outside(Work work) {
    return spawn_with({}, work);
  }

  template <class Work>
  pid_t spawn_with(const std::vector<UniqueFd>& fds, Work work) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT}) ::signal(sig, SIG_DFL);
      ::close(ready[0]);
      for (const auto& fd : fds)
        if (::write(fd.get(), "0", 1) != 1) ::_exit(120);
      char c = 1;
      if (::write(ready[1], &c, 1) != 1) ::_exit(121);
      ::close(ready[1]);
      work();
      ::_exit(0);
    }
    ::close(ready[1]);
    char c = 0;
    bool joined = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    children_.push_back(pid);
    REQUIRE(joined);
    return pid;
  }

  void forget(pid_t pid) { std::erase(children_, pid); }

  static void reap_all(std::chrono::milliseconds budget) {
    auto end = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < end) {
      pid_t r = ::waitpid(-1, nullptr, WNOHANG);
      if (r < 0) return;  // ECHILD: nothing left
      if (r == 0) ::usleep(2000);
    }
  }

 private:
  std::unique_ptr<CgroupDriver> driver_;
  std::string base_;
  std::vector<std::string> leaves_;
  std::vector<pid_t> children_;
};

std::string unique_base() { return "svc-test-" + std::to_string(::getpid()); }

std::unique_ptr<TestCgroup> host_cgroup() {
  auto layout = probe_cgroups();
  auto driver = make_cgroup_driver(layout, unique_base());
  if (!driver) FAIL("no cgroup driver on this host: " << describe(driver.error()));
  return std::make_unique<TestCgroup>(std::move(*driver), unique_base());
}

[[noreturn]] void spin() {
  volatile std::uint64_t x = 0;
  for (;;) x = x + 1;
}

}  // namespace

TEST_CASE(
    "cgroups: a process placed through the procs files is in the cgroup, and remove() "
    "leaves nothing",
    "[cgroups][integration]") {
  if (!need_root()) return;
  {
    auto t = host_cgroup();
    CgroupLimits limits;
    limits.pids = 16;
    REQUIRE_OK(t->create("lifecycle", limits));
    auto again = t->driver().create("lifecycle", limits);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == Code::kAlreadyExists);

    pid_t child = t->spawn("lifecycle", [] { ::pause(); });
    auto pids = t->driver().pids("lifecycle");
    REQUIRE(pids);
    CHECK(*pids == std::vector<pid_t>{child});
    auto stats = t->driver().stats("lifecycle");
    REQUIRE(stats);
    CHECK(stats->pids == 1u);

    // A second, already running process moved in with add_process.
    pid_t other = t->spawn_outside([] { ::pause(); });
    REQUIRE_OK(t->driver().add_process("lifecycle", other));
    CHECK(t->driver().pids("lifecycle")->size() == 2);

    REQUIRE_OK(t->driver().kill_all("lifecycle", SIGTERM));
    int s1 = wait_exit(child, 5s), s2 = wait_exit(other, 5s);
    CHECK((WIFSIGNALED(s1) && WTERMSIG(s1) == SIGTERM));
    CHECK((WIFSIGNALED(s2) && WTERMSIG(s2) == SIGTERM));
    t->forget(child);
    t->forget(other);
    REQUIRE_OK(t->driver().remove("lifecycle"));
    for (const auto& d : base_dirs(t->base())) {
      INFO(d);
      CHECK_FALSE(fs::exists(d / "lifecycle"));
    }
  }
  CHECK(base_dirs(unique_base()).empty());
}

TEST_CASE("cgroups: a memory hog is OOM-killed and counted as an OOM kill",
          "[cgroups][integration]") {
  if (!need_root()) return;
  auto t = host_cgroup();
  CgroupLimits limits;
  limits.memory_bytes = 32ull << 20;
  limits.pids = 16;
  REQUIRE_OK(t->create("oom", limits));
  auto notifier = t->driver().open_oom_notifier("oom");
  REQUIRE_OK(notifier);
  pid_t hog = t->spawn("oom", [] {
    constexpr std::size_t kSize = 512ull << 20;  // 16x the limit
    void* p = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) ::_exit(3);
    for (std::size_t off = 0; off < kSize; off += 4096) static_cast<volatile char*>(p)[off] = 1;
    ::_exit(4);  // reached only if the limit did not hold
  });
  int status = wait_exit(hog, 20s);
  t->forget(hog);
  REQUIRE(status >= 0);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto stats = t->driver().stats("oom");
  REQUIRE_OK(stats);
  CHECK(stats->oom_kills >= 1u);
  CHECK(stats->memory_peak_bytes <= limits.memory_bytes);
  CHECK(stats->memory_peak_bytes >= limits.memory_bytes / 2);
  struct pollfd p {
    notifier->get(), POLLIN, 0
  };
  CHECK(::poll(&p, 1, 1000) == 1);
  t.reset();
  CHECK(base_dirs(unique_base()).empty());
}

TEST_CASE("cgroups: a fork bomb stops at the pids limit and kill_all ends it",
          "[cgroups][integration]") {
  if (!need_root()) return;
  auto t = host_cgroup();
  CgroupLimits limits;
  limits.pids = 32;
  limits.cpu_millis = 500;  // keep the bomb's spinning to half a core on a shared machine
  REQUIRE_OK(t->create("bomb", limits));
  pid_t root = t->spawn("bomb", [] {
    for (;;) (void)::fork();
  });
  // It fills its allowance quickly and no further.
  std::uint64_t most = 0;
  auto end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end && most < 32) {
    auto s = t->driver().stats("bomb");
    REQUIRE(s);
    most = std::max(most, s->pids);
    ::usleep(5000);
  }
  CHECK(most == 32u);
  ::usleep(100'000);
  CHECK(t->driver().stats("bomb")->pids <= 32u);

  REQUIRE_OK(t->driver().kill_all("bomb", SIGKILL));
  bool empty = false;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!empty && std::chrono::steady_clock::now() < deadline) {
    TestCgroup::reap_all(10ms);
    auto pids = t->driver().pids("bomb");
    REQUIRE(pids);
    empty = pids->empty();
  }
  CHECK(empty);
  t->forget(root);
  TestCgroup::reap_all(1s);
  CHECK(t->driver().stats("bomb")->pids == 0u);
  REQUIRE_OK(t->driver().remove("bomb"));
  t.reset();
  CHECK(base_dirs(unique_base()).empty());
}

// How much CPU the hog then gets is a measurement, not a behaviour: bench_cgroup_cpu_share
// (tests/bench) reports it beside runc's. Here: the limit is the kernel's quota, and it bites.
TEST_CASE("cgroups: a 200 millicpu limit is the kernel's CFS quota, and it throttles a CPU hog",
          "[cgroups][integration]") {
  if (!need_root()) return;
  auto t = host_cgroup();
  CgroupLimits limits;
  limits.cpu_millis = 200;
  REQUIRE_OK(t->create("cpu", limits));
  // The cpu controller's directory: cpu.max on cgroup2, cpu.cfs_* on v1 (cpu,cpuacct).
  fs::path dir;
  for (const auto& base : base_dirs(t->base()))
    if (fs::exists(base / "cpu" / "cpu.max") || fs::exists(base / "cpu" / "cpu.cfs_quota_us"))
      dir = base / "cpu";
  REQUIRE_FALSE(dir.empty());
  const std::string period = std::to_string(limits.cpu_period_us);
  const std::string quota = std::to_string(limits.cpu_period_us / 5);  // 200/1000 of a CPU
  if (fs::exists(dir / "cpu.max")) {
    CHECK(read_file(dir / "cpu.max").value_or("") == quota + " " + period + "\n");
  } else {
    CHECK(read_file(dir / "cpu.cfs_quota_us").value_or("") == quota + "\n");
    CHECK(read_file(dir / "cpu.cfs_period_us").value_or("") == period + "\n");
  }
  // A hog that wants a whole CPU runs out of its quota each period: the kernel counts the
  // throttled periods in cpu.stat (nr_throttled, on v1 and v2 alike).
  t->spawn("cpu", [] { spin(); });
  auto throttled = [&] {
    auto stat = read_file(dir / "cpu.stat").value_or("");
    auto at = stat.find("nr_throttled ");
    return at != std::string::npos && std::atoll(stat.c_str() + at + 13) > 0;
  };
  auto end = std::chrono::steady_clock::now() + 20s;
  while (!throttled() && std::chrono::steady_clock::now() < end) ::usleep(10'000);
  CHECK(throttled());
  t.reset();
  CHECK(base_dirs(unique_base()).empty());
}

TEST_CASE("cgroups: the v2 driver on this host's cgroup2 mount (no controllers but the core)",
          "[cgroups][integration]") {
  if (!need_root()) return;
  auto layout = probe_cgroups();
  if (layout.unified.empty()) SVC_SKIP("no cgroup2 mount on this host");
  // On this hybrid host cpu, memory and pids are bound to v1 hierarchies, so the unified mount
  // offers none of them: only what the core gives (procs, cpu.stat, freeze, kill) is tested.
  TestCgroup t(make_cgroup_v2(layout.unified, unique_base()), unique_base());
  auto offered = read_file(layout.unified / "cgroup.controllers");
  REQUIRE(offered);
  bool has_pids = offered->find("pids") != std::string::npos;
  CgroupLimits none;
  none.pids = 0;
  if (!has_pids) {
    auto refused = t.driver().create("v2", CgroupLimits{});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == Code::kFailedPrecondition);
  }
  REQUIRE_OK(t.create("v2", has_pids ? CgroupLimits{} : none));
  CHECK(fs::is_directory(layout.unified / unique_base() / "v2"));
  auto fd = t.driver().dir_fd("v2");
  REQUIRE_OK(fd);
  pid_t child = t.spawn("v2", [] { spin(); });
  CHECK(t.driver().pids("v2") == std::vector<pid_t>{child});
  ::usleep(100'000);
  auto s = t.driver().stats("v2");
  REQUIRE_OK(s);
  CHECK(s->cpu_seconds > 0.01);
  REQUIRE_OK(t.driver().kill_all("v2", SIGKILL));  // cgroup.kill, or freeze + signal
  int status = wait_exit(child, 5s);
  t.forget(child);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  REQUIRE_OK(t.driver().remove("v2"));
  CHECK_FALSE(fs::exists(layout.unified / unique_base() / "v2"));
}

TEST_CASE("cgroups: the v2 driver leaves nothing on the cgroup2 mount", "[cgroups][integration]") {
  if (!need_root()) return;
  auto layout = probe_cgroups();
  if (layout.unified.empty()) SVC_SKIP("no cgroup2 mount on this host");
  {
    TestCgroup t(make_cgroup_v2(layout.unified, unique_base()), unique_base());
    CgroupLimits none;
    none.pids = 0;
    REQUIRE_OK(t.create("v2", none));
  }
  CHECK_FALSE(fs::exists(layout.unified / unique_base()));
}
