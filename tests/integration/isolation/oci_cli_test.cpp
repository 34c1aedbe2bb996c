// svc-runtime, the OCI command line, driven as runc would be (root; busybox-static bundle).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <thread>

#include "common/fs.hpp"
#include "isolation/shim_cgroup.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sandbox_fixture.hpp"

using namespace svc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A bundle in a temp dir, and svc-runtime state, cgroups and id range private to this process;
// the destructor deletes every container and the cgroup directories.
struct Bundle {
  TempDir dir{"svc-bundle-"};
  std::string tag = std::to_string(::getpid());
  fs::path root() const { return dir.path() / "state"; }
  ~Bundle() {
    if (!test::is_root()) return;
    auto ids = rt({"list", "-q"});
    std::istringstream in(ids.out);
    std::string id;
    while (in >> id) rt({"delete", "--force", id});
    auto mounts = isolation::cgroup_mounts();
    for (int i = 0; i < 500; ++i) {
      if (isolation::remove_shim_cgroups(mounts, "svc-shims-oci-" + tag)) break;
      std::this_thread::sleep_for(10ms);
    }
    (void)isolation::remove_shim_cgroups(mounts, "svc-oci-" + tag);
  }
  test::RunResult rt(std::vector<std::string> args) const {
    std::vector<std::string> argv = {
        test::svc_runtime_path(),
        "--root",
        root().string(),
        "--cgroup-base",
        "svc-oci-" + tag,
        "--shim-cgroup",
        "svc-shims-oci-" + tag,
        "--id-base",
        std::to_string(3'300'000'000u +
                       static_cast<std::uint32_t>(::getpid() % 1000) * 65536u * 4u)};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, 30s, {{"SVC_SHIM", test::shim_path()}});
  }
  // For verbs that leave a container running: the container inherits svc-runtime's stdio (as
  // with runc), so it must not be our capture pipe, or run() would wait for the container.
  test::RunResult rt_detached(const std::vector<std::string>& args) const {
    std::string cmd = "exec " + test::svc_runtime_path() + " --root " + root().string() +
                      " --cgroup-base svc-oci-" + tag + " --shim-cgroup svc-shims-oci-" + tag +
                      " --id-base " +
                      std::to_string(3'300'000'000u +
                                     static_cast<std::uint32_t>(::getpid() % 1000) * 65536u * 4u);
    for (const auto& a : args) cmd += " '" + a + "'";
    fs::path err = dir.path() / "rt.err";
    cmd += " </dev/null >/dev/null 2>" + err.string();
    auto r = test::run({"sh", "-c", cmd}, 30s, {{"SVC_SHIM", test::shim_path()}});
    if (auto e = read_file(err)) r.err = *e;
    return r;
  }
  // config.json from `svc-runtime spec`, with args and a small seccomp profile set.
  void configure(const std::vector<std::string>& args) const {
    auto text = read_file(dir.path() / "config.json");
    REQUIRE(text);
    json c = json::parse(*text);
    c["process"]["args"] = args;
    c["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls",
         {{{"names", {"mount", "umount2"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
    REQUIRE(write_file_atomic(dir.path() / "config.json", c.dump(2)));
  }
};

bool prepare(Bundle& b) {
  if (!test::is_root()) {
    test::report_skip("needs root (svc-runtime makes real namespaces, mounts and cgroups)");
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

json state_of(const Bundle& b, const std::string& id) {
  auto r = b.rt({"state", id});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("svc-runtime run executes a busybox bundle and returns its exit code", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure(
      {"sh", "-c",
       "echo hello from $(id -u); if mount -t tmpfs x /tmp; then echo mounted; fi; exit 3"});
  std::string id = "oci-run-" + std::to_string(::getpid());
  auto r = b.rt({"run", "--bundle", b.dir.path().string(), id});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "hello from 0\n");
  // run removes the container afterwards.
  CHECK(b.rt({"state", id}).exit_code != 0);
}

TEST_CASE("svc-runtime follows the OCI lifecycle: create, state, start, kill, delete", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure({"sleep", "60"});
  std::string id = "oci-life-" + std::to_string(::getpid());
  fs::path pid_file = b.dir.path() / "pid";
  auto created = b.rt_detached(
      {"create", "--bundle", b.dir.path().string(), "--pid-file", pid_file.string(), id});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  json s = state_of(b, id);
  CHECK(s["status"] == "created");
  CHECK(s["id"] == id);
  CHECK(s["ociVersion"].get<std::string>().starts_with("1."));
  CHECK(s["bundle"] == fs::canonical(b.dir.path()).string());
  auto pid = read_file(pid_file);
  REQUIRE(pid);
  CHECK(s["pid"].get<int>() == std::stoi(*pid));
  // The container outlives the svc-runtime process that created it.
  CHECK(::kill(s["pid"].get<int>(), 0) == 0);
  REQUIRE(b.rt({"start", id}).exit_code == 0);
  CHECK(state_of(b, id)["status"] == "running");
  CHECK(b.rt({"start", id}).exit_code != 0);   // only a created container starts
  CHECK(b.rt({"delete", id}).exit_code != 0);  // running: refused without --force
  REQUIRE(b.rt({"kill", id, "KILL"}).exit_code == 0);
  REQUIRE(test::wait_for([&] { return state_of(b, id)["status"] == "stopped"; }, 10s));
  CHECK(state_of(b, id)["pid"] == 0);
  REQUIRE(b.rt({"delete", id}).exit_code == 0);
  CHECK(b.rt({"state", id}).exit_code != 0);
  CHECK(b.rt({"delete", "--force", id}).exit_code == 0);  // force: absent is fine
}

TEST_CASE("svc-runtime refuses what it does not do, and says so", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  auto text = read_file(b.dir.path() / "config.json");
  REQUIRE(text);
  json c = json::parse(*text);
  c["process"]["terminal"] = true;
  REQUIRE(write_file_atomic(b.dir.path() / "config.json", c.dump()));
  auto r =
      b.rt({"create", "--bundle", b.dir.path().string(), "oci-tty-" + std::to_string(::getpid())});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("terminal") != std::string::npos);
  auto f = test::run({test::svc_runtime_path(), "features"});
  REQUIRE(f.exit_code == 0);
  json features = json::parse(f.out);
  CHECK(features["linux"]["mountExtensions"]["idmap"]["enabled"] == true);
  CHECK(b.rt({"state", "no-such-container"}).exit_code != 0);
}
