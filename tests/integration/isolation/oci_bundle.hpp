#pragma once
// A busybox OCI bundle and a private svc-runtime state for the svc-runtime tests (root): state
// dir, cgroup base, shims' cgroup and id range named after the test process, so parallel runs
// never collide. The destructor deletes every container and the cgroup directories, also when a
// test fails.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.hpp"
#include "isolation/shim_cgroup.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sandbox_fixture.hpp"
#include "tests/support/skip.hpp"

namespace svc::test::oci {

inline std::uint32_t id_base() {
  return 3'300'000'000u + static_cast<std::uint32_t>(::getpid() % 1000) * 65536u * 4u;
}

struct Bundle {
  TempDir dir{"svc-bundle-"};
  std::string tag = std::to_string(::getpid());
  std::filesystem::path root() const { return dir.path() / "state"; }
  std::string cgroup_base() const { return "svc-oci-" + tag; }
  std::filesystem::path bundle() const { return dir.path(); }

  ~Bundle() {
    if (!test::is_root()) return;
    auto ids = rt({"list", "-q"});
    std::istringstream in(ids.out);
    std::string id;
    while (in >> id) rt({"delete", "--force", id});
    auto mounts = isolation::cgroup_mounts();
    for (int i = 0; i < 500; ++i) {
      if (isolation::remove_shim_cgroups(mounts, "svc-shims-oci-" + tag)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Containers without a cgroupsPath live below svc-runtime's own cgroup (that of this
    // process) in each hierarchy, in <own>/<cgroup base>/<id>.
    auto own = isolation::own_cgroups(mounts);
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      std::error_code ec;
      std::filesystem::path below = mounts[i].mount_point;
      if (own[i].size() > 1) below /= own[i].substr(1);
      std::filesystem::remove(below / cgroup_base(), ec);
    }
    (void)isolation::remove_shim_cgroups(mounts, cgroup_base());
  }

  std::vector<std::string> base_argv() const {
    return {test::svc_runtime_path(), "--root",      root().string(),
            "--cgroup-base",          cgroup_base(), "--shim-cgroup",
            "svc-shims-oci-" + tag,   "--id-base",   std::to_string(id_base())};
  }
  test::RunResult rt(std::vector<std::string> args) const {
    std::vector<std::string> argv = base_argv();
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, std::chrono::seconds(30), {{"SVC_SHIM", test::shim_path()}});
  }
  // For verbs that leave a container running: the container inherits svc-runtime's stdio (as
  // with runc), so it must not be our capture pipe, or run() would wait for the container.
  // out: where the container's stdout goes (default /dev/null).
  test::RunResult rt_detached(const std::vector<std::string>& args,
                              const std::string& out = "/dev/null") const {
    std::string cmd = "exec";
    for (const auto& a : base_argv()) cmd += " '" + a + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    std::filesystem::path err = dir.path() / "rt.err";
    cmd += " </dev/null >" + out + " 2>" + err.string();
    auto r =
        test::run({"sh", "-c", cmd}, std::chrono::seconds(30), {{"SVC_SHIM", test::shim_path()}});
    if (auto e = read_file(err)) r.err = *e;
    return r;
  }
  nlohmann::json config() const {
    auto text = read_file(dir.path() / "config.json");
    REQUIRE(text);
    return nlohmann::json::parse(*text);
  }
  void write_config(const nlohmann::json& c) const {
    REQUIRE(write_file_atomic(dir.path() / "config.json", c.dump(2)));
  }
  // config.json from `svc-runtime spec`, with args and a small seccomp profile set.
  void configure(const std::vector<std::string>& args) const {
    nlohmann::json c = config();
    c["process"]["args"] = args;
    c["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls",
         {{{"names", {"mount", "umount2"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
    write_config(c);
  }
};

// The busybox root and `svc-runtime spec`'s config.json; false (with the reason printed as
// "skipped: ...", which ctest reports as a skip) when the test cannot run here.
inline bool prepare(Bundle& b) {
  if (!test::is_root()) {
    test::report_skip("needs root (real namespaces, mounts and cgroups)");
    return false;
  }
  std::string why;
  if (!test::make_busybox_rootfs(b.dir.path() / "rootfs", &why)) {
    test::report_skip(why);
    return false;
  }
  auto spec = test::run({test::svc_runtime_path(), "spec", "--bundle", b.dir.path().string()});
  REQUIRE(spec.exit_code == 0);
  return true;
}

inline nlohmann::json state_of(const Bundle& b, const std::string& id) {
  auto r = b.rt({"state", id});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

}  // namespace svc::test::oci
