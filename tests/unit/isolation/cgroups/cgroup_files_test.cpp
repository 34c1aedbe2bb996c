#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "fake_cgroupfs.hpp"
#include "isolation/cgroups/cgroup_files.hpp"
#include "isolation/cgroups/cgroup_limits.hpp"

using namespace svc;
using namespace svc::isolation;
using namespace svc::isolation::cgroups;
using svc::test::FakeCgroupFs;
namespace fs = std::filesystem;

TEST_CASE("cgroup names: sandbox ids and nested names pass, escapes and odd characters fail",
          "[cgroups]") {
  CHECK(check_relative("abc"));
  CHECK(check_relative("svc-test-123/0f3a.b_c"));
  for (std::string_view bad :
       {"", "/abs", "a/../b", "..", "a//b", "./a", "a/.", "a b", "a\nb", "a/", "x;rm", "é"}) {
    INFO(bad);
    auto r = check_relative(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("keyed files: the number after the key, nothing for a missing or non-numeric key",
          "[cgroups]") {
  constexpr std::string_view text = "oom_kill_disable 0\nunder_oom 1\noom_kill 7\nbad x\n";
  CHECK(find_keyed(text, "oom_kill") == 7u);
  CHECK(find_keyed(text, "under_oom") == 1u);
  CHECK_FALSE(find_keyed(text, "oom"));  // a prefix of a key is not the key
  CHECK_FALSE(find_keyed(text, "bad"));
  CHECK_FALSE(find_keyed("", "oom_kill"));
}

TEST_CASE("control files: written values replace the old ones - a missing file is an error",
          "[cgroups]") {
  TempDir dir;
  FakeCgroupFs::put(dir.path() / "pids.max", "max\n");
  REQUIRE(write_value(dir.path() / "pids.max", "64"));
  CHECK(FakeCgroupFs::get(dir.path() / "pids.max") == "64");
  CHECK(read_u64(dir.path() / "pids.max") == 64u);
  auto missing = write_value(dir.path() / "memory.memsw.limit_in_bytes", "1");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message().find("memory.memsw.limit_in_bytes") != std::string::npos);
  FakeCgroupFs::put(dir.path() / "junk", "12x\n");
  CHECK(read_u64(dir.path() / "junk").error().code() == Code::kDataLoss);
}

TEST_CASE("cgroup.procs parsing refuses anything but positive pids", "[cgroups]") {
  TempDir dir;
  FakeCgroupFs::put(dir.path() / "cgroup.procs", "12\n345\n");
  CHECK(read_procs(dir.path() / "cgroup.procs") == std::vector<pid_t>{12, 345});
  FakeCgroupFs::put(dir.path() / "cgroup.procs", "");
  CHECK(read_procs(dir.path() / "cgroup.procs")->empty());
  FakeCgroupFs::put(dir.path() / "cgroup.procs", "0\n");
  CHECK_FALSE(read_procs(dir.path() / "cgroup.procs"));
  FakeCgroupFs::put(dir.path() / "cgroup.procs", "-1\n");
  CHECK_FALSE(read_procs(dir.path() / "cgroup.procs"));
}

TEST_CASE("limits: CPU quota from millicpus, and the kernel's bounds checked up front",
          "[cgroups]") {
  CgroupLimits l;
  CHECK_FALSE(cpu_quota_us(l));
  l.cpu_millis = 200;
  CHECK(cpu_quota_us(l) == 20'000u);
  l.cpu_millis = 2500;
  l.cpu_period_us = 50'000;
  CHECK(cpu_quota_us(l) == 125'000u);
  CHECK(validate(l));

  CgroupLimits tiny;
  tiny.cpu_millis = 5;  // 500 us per 100 ms: below the kernel's 1 ms minimum quota
  auto r = validate(tiny);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kInvalidArgument);
  CHECK(r.error().message().find("minimum") != std::string::npos);

  CgroupLimits bad_period;
  bad_period.cpu_millis = 1000;
  bad_period.cpu_period_us = 2'000'000;
  CHECK_FALSE(validate(bad_period));
  CgroupLimits negative;
  negative.pids = -1;
  CHECK_FALSE(validate(negative));
  negative.pids = 0;
  negative.cpu_millis = -1;
  CHECK_FALSE(validate(negative));
}

TEST_CASE("rmdir is retried while busy, within its budget, and a gone directory is fine",
          "[cgroups]") {
  TempDir dir;
  int calls = 0;
  CgroupFsOps ops;
  ops.remove_dir = [&](const fs::path&) { return ++calls < 3 ? EBUSY : 0; };
  REQUIRE(remove_dir_retrying(dir.path() / "x", ops, std::chrono::milliseconds(1000)));
  CHECK(calls == 3);

  ops.remove_dir = [](const fs::path&) { return ENOENT; };
  CHECK(remove_dir_retrying(dir.path() / "x", ops));

  calls = 0;
  ops.remove_dir = [&](const fs::path&) {
    ++calls;
    return EBUSY;
  };
  auto r = remove_dir_retrying(dir.path() / "x", ops, std::chrono::milliseconds(30));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kFailedPrecondition);
  CHECK(calls > 1);
}

TEST_CASE("signals go to listed pids only - a pid that is gone is not an error", "[cgroups]") {
  pid_t child = svc::test::spawn_pausing_child();
  REQUIRE(signal_all({child}, SIGKILL));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  // Reaped: ESRCH. Signal 0 so a recycled pid could never be hurt by this check.
  CHECK(signal_all({child}, 0));
}
