#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/host_probe.hpp"

using namespace svc;
using namespace svc::isolation;
namespace fs = std::filesystem;

namespace {
void put(const fs::path& p, std::string_view text) {
  REQUIRE(make_dirs(p.parent_path()));
  REQUIRE(write_file_atomic(p, text));
}

constexpr std::string_view kCgroups =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t5\t1\n"
    "devices\t5\t1\t1\nfreezer\t6\t1\t1\npids\t8\t1\t1\nhugetlb\t0\t1\t1\n";
}  // namespace

TEST_CASE("a hybrid host (this machine's layout) is seen as hybrid with the v1 driver", "[probe]") {
  TempDir root;
  ProbeRoots r{root.path() / "proc", root.path() / "sys", root.path() / "dev", root.path() / "etc"};
  // Mount points inside the temp tree, so nothing of the real host is read.
  std::string cg = (root.path() / "sys/fs/cgroup").string();
  put(r.proc / "self/mountinfo",
      fmt::format("30 25 0:26 / {0} rw - tmpfs tmpfs rw,mode=755\n"
                  "31 30 0:27 / {0}/cpu rw - cgroup cgroup rw,cpu\n"
                  "32 30 0:28 / {0}/cpuacct rw - cgroup cgroup rw,cpuacct\n"
                  "35 30 0:31 / {0}/memory rw - cgroup cgroup rw,memory\n"
                  "39 30 0:35 / {0}/pids rw - cgroup cgroup rw,pids\n"
                  "40 30 0:36 / {0}/systemd rw - cgroup cgroup rw,name=systemd\n"
                  "41 30 0:37 / {0}/unified rw - cgroup2 cgroup2 rw\n",
                  cg));
  put(r.proc / "cgroups", kCgroups);
  put(root.path() / "sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
  auto layout = probe_cgroups(r);
  CHECK(layout.mode == CgroupMode::kHybrid);
  CHECK(layout.driver == "v1");
  CHECK(layout.unified == cg + "/unified");
  // name=systemd is a named hierarchy, not a controller.
  for (const auto& c : layout.controllers) CHECK(c.name != "name=systemd");
  CHECK(layout.controllers.size() == 5);
}

TEST_CASE("a pure v2 host is seen as v2 with the v2 driver", "[probe]") {
  TempDir root;
  ProbeRoots r{root.path() / "proc", root.path() / "sys", root.path() / "dev", root.path() / "etc"};
  put(r.proc / "self/mountinfo",
      "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  put(r.proc / "cgroups", kCgroups);
  // The fake tree is read at the mount point mountinfo names, relative to nothing: point the
  // unified path into the temp tree by making mountinfo name it.
  put(root.path() / "cg/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  put(r.proc / "self/mountinfo", fmt::format("30 25 0:26 / {} rw - cgroup2 cgroup2 rw,nsdelegate\n",
                                             (root.path() / "cg").string()));
  auto layout = probe_cgroups(r);
  CHECK(layout.mode == CgroupMode::kV2);
  CHECK(layout.driver == "v2");
  CHECK(layout.controllers.size() == 8);
}

TEST_CASE("kvm flavour: pvm is present but not usable for VMs", "[probe]") {
  TempDir root;
  ProbeRoots r{root.path() / "proc", root.path() / "sys", root.path() / "dev", root.path() / "etc"};
  CHECK_FALSE(probe_kvm(r).device_present);
  put(r.dev / "kvm", "");
  REQUIRE(make_dirs(r.sys / "module/kvm_pvm"));
  auto k = probe_kvm(r);
  CHECK(k.device_present);
  CHECK(k.flavour == "kvm_pvm");
  CHECK_FALSE(k.usable_for_vms);
  CHECK(k.detail.find("guest kernels") != std::string::npos);
}

TEST_CASE("architecture names follow OCI", "[probe]") {
  CHECK(oci_architecture("x86_64") == "amd64");
  CHECK(oci_architecture("aarch64") == "arm64");
  CHECK(oci_architecture("armv7l") == "arm");
}

TEST_CASE("MemTotal is read in bytes", "[probe]") {
  TempDir root;
  ProbeRoots r{root.path() / "proc", root.path() / "sys", root.path() / "dev", root.path() / "etc"};
  put(r.proc / "meminfo", "MemTotal:       24684092 kB\nMemFree:  1 kB\n");
  CHECK(read_mem_total(r) == 24684092ULL * 1024);
}

TEST_CASE("favordynmods: offered by the kernel, and whether a cgroup mount carries it", "[probe]") {
  TempDir root;
  ProbeRoots r{root.path() / "proc", root.path() / "sys", root.path() / "dev", root.path() / "etc"};
  std::string cg = (root.path() / "sys/fs/cgroup").string();
  put(r.proc / "cgroups", kCgroups);
  // The host: its features file (none when empty) and its mountinfo, {0} the cgroup root.
  auto probe = [&](std::string_view features, std::string_view mountinfo) {
    if (!features.empty()) put(r.sys / "kernel/cgroup/features", features);
    put(r.proc / "self/mountinfo", fmt::format(fmt::runtime(mountinfo), cg));
    return probe_cgroups(r);
  };
  SECTION("an old kernel: neither") {
    auto layout = probe("", "31 30 0:27 / {0}/pids rw - cgroup cgroup rw,pids\n");
    CHECK_FALSE(layout.favordynmods_supported);
    CHECK_FALSE(layout.favordynmods);
  }
  SECTION("offered, not used (this machine as installed)") {
    auto layout = probe("nsdelegate\nfavordynmods\nmemory_localevents\n",
                        "31 30 0:27 / {0}/pids rw - cgroup cgroup rw,pids\n"
                        "40 30 0:35 / {0}/unified rw - cgroup2 cgroup2 rw\n");
    CHECK(layout.favordynmods_supported);
    CHECK_FALSE(layout.favordynmods);
  }
  SECTION("a v1 hierarchy mounted with it: not mistaken for a controller") {
    auto layout =
        probe("favordynmods\n", "31 30 0:27 / {0}/pids rw - cgroup cgroup rw,pids,favordynmods\n");
    CHECK(layout.favordynmods);
    for (const auto& c : layout.controllers) CHECK(c.name != "favordynmods");
  }
  SECTION("a cgroup of its own on the cgroup2 mount (a systemd service), or its root") {
    const char* hybrid =
        "31 30 0:27 / {0}/pids rw - cgroup cgroup rw,pids\n"
        "40 30 0:35 / {0}/unified rw - cgroup2 cgroup2 rw\n";
    put(r.proc / "self/cgroup", "8:pids:/\n0::/system.slice/svcd.service\n");
    CHECK(probe("favordynmods\n", hybrid).own_v2_cgroup);
    put(r.proc / "self/cgroup", "8:pids:/\n0::/\n");
    CHECK_FALSE(probe("favordynmods\n", hybrid).own_v2_cgroup);
  }
  SECTION("cgroup2 mounted with it") {
    CHECK(probe("favordynmods\n",
                "40 30 0:35 / {0} rw - cgroup2 cgroup2 rw,nsdelegate,favordynmods\n")
              .favordynmods);
  }
}
