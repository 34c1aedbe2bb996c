// linux.cgroupsPath as runc reads it, routed over an absolute and a relative driver.
#include <catch2/catch.hpp>

#include "../cgroups/fake_cgroupfs.hpp"
#include "isolation/oci_cli/oci_cgroups.hpp"

using namespace svc;
using namespace svc::isolation;
using namespace svc::isolation::oci;
namespace fs = std::filesystem;

TEST_CASE("cgroupsPath: absolute below the hierarchy, relative below our own, default by id",
          "[oci][cgroups]") {
  CHECK(*cgroup_name("/cgrouptest", "c1", "") == "root/cgrouptest");
  CHECK(*cgroup_name("/machine/./c1/", "c1", "") == "root/machine/c1");
  CHECK(*cgroup_name("testdir/cgrouptest/container", "c1", "") ==
        "own/testdir/cgrouptest/container");
  CHECK(*cgroup_name("", "c1", "") == "own/c1");
  CHECK(*cgroup_name("", "c1", "svc-oci") == "own/svc-oci/c1");
  CHECK(*cgroup_name("/a/../../b", "c1", "") == "root/b");  // "/.." is "/": still inside
  for (const char* bad : {"/", "a/../../b", "..", "system.slice:docker:c1"}) {
    INFO(bad);
    auto r = cgroup_name(bad, "c1", "");
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("the router sends root/ and own/ names to their drivers", "[oci][cgroups]") {
  svc::test::FakeCgroupFs f;
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) f.add_v1(c);
  // "own": as if svc-runtime ran in /user.slice of every hierarchy.
  std::map<std::string, fs::path> own_mounts;
  for (const auto& [c, m] : f.v1_mounts()) {
    fs::create_directories(m / "user.slice");
    own_mounts[c] = m / "user.slice";
  }
  auto cg = make_oci_cgroups(make_cgroup_v1(f.v1_mounts(), "", f.ops()),
                             make_cgroup_v1(own_mounts, "", f.ops()));
  REQUIRE(cg->create("root/cgrouptest", {}));
  CHECK(fs::is_directory(f.root() / "memory" / "cgrouptest"));
  REQUIRE(cg->create("own/a/b", {}));
  CHECK(fs::is_directory(f.root() / "pids" / "user.slice" / "a" / "b"));
  REQUIRE(cg->remove("own/a/b"));
  CHECK_FALSE(fs::exists(f.root() / "pids" / "user.slice" / "a" / "b"));
  auto bad = cg->create("elsewhere/x", {});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::kInvalidArgument);
  CHECK(cg->version() == "v1");
}
