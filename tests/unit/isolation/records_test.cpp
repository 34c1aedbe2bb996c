#include <signal.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/capabilities.hpp"
#include "isolation/exit_record.hpp"
#include "isolation/oci_spec.hpp"
#include "isolation/rfc3339.hpp"
#include "isolation/shim_cgroup.hpp"

using namespace svc;
using namespace svc::isolation;

TEST_CASE("RFC 3339 times round-trip with nanoseconds - offsets and short fractions parse",
          "[records]") {
  auto t = parse_rfc3339("2026-11-22T15:08:20.123456789Z");
  REQUIRE(t);
  CHECK(format_rfc3339_nano(*t) == "2026-11-22T15:08:20.123456789Z");
  CHECK(format_rfc3339_nano(*parse_rfc3339("2026-11-22T16:08:20.5+01:00")) ==
        "2026-11-22T15:08:20.500000000Z");
  for (const char* bad : {"", "2026-11-22", "2026-13-01T00:00:00Z", "2026-11-22T15:08:20",
                          "2026-11-22T15:08:20.Z", "2026-11-22T15:08:20Zjunk"})
    CHECK_FALSE(parse_rfc3339(bad));
}

TEST_CASE("exit records parse what the shim writes and round-trip", "[records]") {
  auto r = parse_exit_record(
      R"({"exit_code":137,"signal":9,"core_dumped":false,"oom_killed":true,"oom_kills":1,)"
      R"("started_at":"2026-11-22T15:08:20.000000001Z","exited_at":"2026-11-22T15:08:21.5Z",)"
      R"("cpu_seconds":0.25,"memory_peak_bytes":33554432,"error":""})");
  REQUIRE(r);
  CHECK(r->signal == 9);
  CHECK(r->oom_killed);
  CHECK(r->memory_peak_bytes == 33554432u);
  REQUIRE(r->started_at);
  auto again = parse_exit_record(to_json(*r));
  REQUIRE(again);
  CHECK(again->exit_code == 137);
  CHECK(*again->started_at == *r->started_at);
  CHECK(again->exited_at == r->exited_at);
  auto never = parse_exit_record(
      R"({"exit_code":127,"started_at":"","exited_at":"2026-11-22T15:08:21Z","error":"exec x: No such file"})");
  REQUIRE(never);
  CHECK_FALSE(never->started_at);
  CHECK(never->error == "exec x: No such file");
  CHECK_FALSE(parse_exit_record("{"));
}

TEST_CASE("capability names map both ways", "[records]") {
  CHECK(capability_from_name("CAP_NET_BIND_SERVICE") == 10);
  CHECK(capability_from_name("net_bind_service") == 10);
  CHECK_FALSE(capability_from_name("CAP_NOPE"));
  CHECK(capability_name(21) == "CAP_SYS_ADMIN");
  CHECK(capability_mask({"CAP_CHOWN", "CAP_KILL"}).value() == ((1ull << 0) | (1ull << 5)));
  CHECK(capability_mask({"CAP_NOPE"}).value() == 0);
  CHECK_FALSE(capability_mask({"CAP_NOPE"}, true));
  CHECK(capability_names(default_capabilities().bounding).size() == 11);
}

TEST_CASE("signal names as runc accepts them", "[records]") {
  CHECK(signal_from_name("SIGTERM") == 15);
  CHECK(signal_from_name("term") == 15);
  CHECK(signal_from_name("9") == 9);
  CHECK(signal_from_name("KILL") == 9);
  CHECK(signal_from_name("RTMIN+1") == SIGRTMIN + 1);
  CHECK(signal_from_name("NOPE") == 0);
  CHECK(signal_from_name("99") == 0);
  CHECK(signal_name(15) == "SIGTERM");
}

TEST_CASE("cgroup mounts are read from mountinfo, v1 named hierarchies and cgroup2 too",
          "[records]") {
  TempDir d;
  REQUIRE(make_dirs(d.path() / "self"));
  REQUIRE(write_file_atomic(
      d.path() / "self/mountinfo",
      "31 25 0:27 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "32 25 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "33 25 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "34 25 0:30 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw\n"
      "35 25 0:31 / /proc rw - proc proc rw\n"));
  auto m = cgroup_mounts(d.path());
  REQUIRE(m.size() == 4);
  CHECK(m[0].cpuset);
  CHECK_FALSE(m[1].cpuset);
  CHECK(m[2].mount_point == "/sys/fs/cgroup/systemd");
  CHECK(m[3].v2);
}

TEST_CASE("the daemon's own cgroup per hierarchy decides where the shims move out", "[records]") {
  TempDir d;
  REQUIRE(make_dirs(d.path() / "self"));
  REQUIRE(write_file_atomic(
      d.path() / "self/mountinfo",
      "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu\n"
      "32 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "33 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "34 25 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "35 25 0:31 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb\n"));
  REQUIRE(write_file_atomic(
      d.path() / "self/cgroup",
      "12:hugetlb:/\n4:memory:/system.slice/svcd.service\n3:cpu,cpuacct:/\n"
      "1:name=systemd:/system.slice/svcd.service\n0::/system.slice/svcd.service\n"));
  auto mounts = cgroup_mounts(d.path());
  REQUIRE(mounts.size() == 5);
  CHECK(mounts[0].controllers == "cpu,cpuacct");
  CHECK(mounts[2].controllers == "name=systemd");
  auto own = own_cgroups(mounts, d.path());
  REQUIRE(own.size() == 5);
  CHECK(own[0] == "/");
  CHECK(own[1] == "/system.slice/svcd.service");
  CHECK(own[2] == "/system.slice/svcd.service");
  CHECK(own[3] == "/system.slice/svcd.service");
  CHECK(own[4] == "/");
}

TEST_CASE("shims leave the daemon's cgroups and the sandboxes', and touch nothing else",
          "[records]") {
  TempDir d;
  std::vector<CgroupMount> mounts(3);
  for (int i = 0; i < 3; ++i) {
    mounts[i].mount_point = d.path() / std::string(1, static_cast<char>('a' + i));
    REQUIRE(make_dirs(mounts[i].mount_point));
    REQUIRE(write_file_atomic(mounts[i].mount_point / "cgroup.procs", ""));
    REQUIRE(write_file_atomic(mounts[i].mount_point / "tasks", ""));
  }
  mounts[1].v2 = true;
  // In a (v1): the daemon has its own cgroup. In b (v2): it is in the root, but sandboxes live
  // there. In c: root, and no sandbox (a hierarchy someone mounted for a moment).
  std::vector<std::string> own = {"/system.slice/svcd.service", "/", "/"};
  // The directory a real cgroupfs would fill with control files.
  REQUIRE(make_dirs(mounts[0].mount_point / "shims"));
  REQUIRE(write_file_atomic(mounts[0].mount_point / "shims/cgroup.procs", ""));
  REQUIRE(write_file_atomic(mounts[0].mount_point / "shims/tasks", ""));
  auto s = ShimCgroups::open(mounts, own, "shims", {mounts[1].mount_point / "svc/sandboxes/x"});
  REQUIRE(s.fds().size() == 2);
  CHECK(s.skipped().empty());
  // The shim-to-be moves itself, single-threaded: v1's "tasks" (no global lock), v2's
  // cgroup.procs.
  auto target = [](int fd) {
    return std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd));
  };
  CHECK(target(s.fds()[0]) == mounts[0].mount_point / "shims/tasks");
  CHECK(target(s.fds()[1]) == mounts[1].mount_point / "cgroup.procs");
  CHECK_FALSE(std::filesystem::exists(mounts[1].mount_point / "shims"));
  CHECK_FALSE(std::filesystem::exists(mounts[2].mount_point / "shims"));
}
