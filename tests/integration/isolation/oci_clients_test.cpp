// Real OCI clients drive svc-runtime as they drive runc (root): Debian's podman (conmon), with
// and without --uidmap, and containerd 1.6's runc shim through `ctr run --runc-binary`. Each
// test has its own storage, state and socket under a temp dir and removes what the client
// leaves; a missing client is a skip ("skipped: ..."), never a pass.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "common/fs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sandbox_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

bool have(const std::string& tool) {
  return test::sh("command -v " + tool + " >/dev/null").exit_code == 0;
}

// Detaches every mount at or below dir (what a client left: podman's shm, overlay roots).
void unmount_below(const fs::path& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> targets;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string id, parent, dev, root, target;
    words >> id >> parent >> dev >> root >> target;
    if (target == dir.string() || target.starts_with(dir.string() + "/")) targets.push_back(target);
  }
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
}

// Cgroups an OCI client makes svc-runtime create at the top of every hierarchy (containerd's
// "/<namespace>/<id>" cgroupsPath leaves the namespace's directory; the runtime's shims live in
// "svc-shims"): the ones that did not exist before the test are removed after it, once empty
// (rmdir refuses a cgroup that is in use, such as a real svc-runtime's svc-shims).
struct CgroupLeftovers {
  std::vector<fs::path> made;
  explicit CgroupLeftovers(const std::vector<std::string>& names) {
    // The v2 root, and each v1 hierarchy's root (on v2, its children: nothing is made there).
    std::vector<fs::path> tops = {"/sys/fs/cgroup"};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup", ec))
      if (e.is_directory(ec)) tops.push_back(e.path());
    for (const auto& top : tops)
      for (const auto& n : names)
        if (!fs::exists(top / n, ec)) made.push_back(top / n);
  }
  ~CgroupLeftovers() {
    for (const auto& p : made) (void)::rmdir(p.c_str());
  }
};

// A busybox root file system, also as a tar (podman import).
struct Root {
  TempDir dir{"svc-clients-"};
  fs::path rootfs() const { return dir.path() / "rootfs"; }
  ~Root() { unmount_below(dir.path()); }
};

bool prepare(Root& r, const std::vector<std::string>& tools) {
  if (!test::is_root()) {
    test::report_skip("needs root (real namespaces, mounts and cgroups)");
    return false;
  }
  for (const auto& tool : tools)
    if (!have(tool)) {
      test::report_skip(tool + " is not installed (packaging/install-deps.sh installs it)");
      return false;
    }
  std::string why;
  if (!test::make_busybox_rootfs(r.rootfs(), &why)) {
    test::report_skip(why);
    return false;
  }
  return true;
}

struct Podman {
  const Root& root;
  std::vector<std::string> argv(std::vector<std::string> args) const {
    std::vector<std::string> out = {
        "podman", "--root", (root.dir.path() / "storage").string(), "--runroot",
        (root.dir.path() / "run").string(), "--storage-driver", "vfs", "--cgroup-manager",
        "cgroupfs", "--events-backend", "file", "--runtime", test::svc_runtime_path(),
        // svc-runtime's state in the temp dir, not /run/svc-runtime
        "--runtime-flag", "root=" + (root.dir.path() / "runtime").string()};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
  test::RunResult operator()(std::vector<std::string> args) const {
    return test::run(argv(std::move(args)), 120s);
  }
  ~Podman() { (void)test::run(argv({"rm", "--all", "--force"}), 60s); }
};

}  // namespace

TEST_CASE("podman runs containers with svc-runtime, with and without --uidmap", "[oci][clients]") {
  CgroupLeftovers leftovers({"svc-shims"});  // last to go: after podman removed its containers
  Root r;
  if (!prepare(r, {"podman", "conmon"})) return;
  auto tar = test::run(
      {"tar", "-C", r.rootfs().string(), "-cf", (r.dir.path() / "rootfs.tar").string(), "."});
  REQUIRE(tar.exit_code == 0);
  Podman podman{r};
  auto imported = podman({"import", (r.dir.path() / "rootfs.tar").string(), "localhost/svc-bb"});
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);

  SECTION("the container's output and exit status come back through conmon") {
    auto run = podman({"run", "--rm", "--network", "none", "localhost/svc-bb", "sh", "-c",
                       "echo hello from $(id -u); exit 7"});
    INFO(run.err);
    CHECK(run.exit_code == 7);
    CHECK(run.out == "hello from 0\n");
  }
  SECTION("--uidmap: the container's root is the mapped host id, its files owned by it") {
    auto run = podman({"run", "--rm", "--network", "none", "--uidmap", "0:3900000000:65536",
                       "--gidmap", "0:3900000000:65536", "localhost/svc-bb", "sh", "-c",
                       "cat /proc/self/uid_map; stat -c '%u:%g' /bin/busybox; touch /tmp/x"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    std::istringstream map(run.out);
    std::string inside, host, size, owner;
    map >> inside >> host >> size >> owner;
    CHECK(inside == "0");
    CHECK(host == "3900000000");
    CHECK(size == "65536");
    CHECK(owner == "0:0");
  }
  SECTION("a detached container is stopped by podman stop") {
    auto started = podman({"run", "-d", "--name", "svc-detached", "--network", "none",
                           "localhost/svc-bb", "sleep", "600"});
    INFO(started.err);
    REQUIRE(started.exit_code == 0);
    auto inspect = podman({"inspect", "--format", "{{.State.Status}}", "svc-detached"});
    CHECK(inspect.out == "running\n");
    auto stopped = podman({"stop", "--time", "1", "svc-detached"});
    INFO(stopped.err);
    CHECK(stopped.exit_code == 0);
    auto after = podman({"inspect", "--format", "{{.State.Status}}", "svc-detached"});
    CHECK(after.out == "exited\n");
  }
}

TEST_CASE("containerd's runc shim runs containers with svc-runtime (ctr --runc-binary)",
          "[oci][clients]") {
  Root r;
  if (!prepare(r, {"containerd", "ctr", "containerd-shim-runc-v2"})) return;
  const fs::path d = r.dir.path();
  const std::string ns = "svc-test-" + std::to_string(::getpid());
  CgroupLeftovers leftovers({ns, "svc-shims"});
  {
    std::ofstream config(d / "config.toml");
    config << "version = 2\nroot = \"" << (d / "root").string() << "\"\nstate = \""
           << (d / "state").string()
           << "\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \""
           << (d / "containerd.sock").string() << "\"\n[ttrpc]\n  address = \""
           << (d / "containerd.sock.ttrpc").string() << "\"\n";
  }
  // The runc shim keeps runc's state in /run/containerd/runc/<namespace> and its sockets and
  // fifos in /run/containerd: ours to remove (all of /run/containerd when we made it).
  struct Cleanup {
    fs::path state;
    bool made_run_dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(made_run_dir ? fs::path("/run/containerd") : state, ec);
    }
  } cleanup{fs::path("/run/containerd/runc") / ns, !fs::exists("/run/containerd")};
  test::Background containerd({"containerd", "--config", (d / "config.toml").string()},
                              (d / "containerd.log").string());
  auto ctr = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"ctr", "--address", (d / "containerd.sock").string(),
                                     "--namespace", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, 120s);
  };
  REQUIRE(test::wait_for([&] { return ctr({"version"}).exit_code == 0; }, 30s));

  const std::vector<std::string> common = {"--runc-binary", test::svc_runtime_path(), "--rootfs",
                                           r.rootfs().string()};
  SECTION("the output and the exit status come back through the shim") {
    std::vector<std::string> args = {"run", "--rm"};
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), {"svc-ctr-run", "sh", "-c", "echo hello from $(id -u); exit 5"});
    auto run = ctr(args);
    INFO(run.err);
    CHECK(run.exit_code == 5);
    CHECK(run.out == "hello from 0\n");
  }
  SECTION("a detached task is listed, killed and deleted") {
    std::vector<std::string> args = {"run", "--detach"};
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), {"svc-ctr-bg", "sleep", "600"});
    auto run = ctr(args);
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    auto tasks = ctr({"task", "list"});
    CHECK(tasks.out.find("RUNNING") != std::string::npos);
    REQUIRE(ctr({"task", "kill", "--signal", "SIGKILL", "svc-ctr-bg"}).exit_code == 0);
    REQUIRE(test::wait_for(
        [&] {
          return ctr({"task", "list"}).out.find("STOPPED") != std::string::npos;
        },
        30s));
    CHECK(ctr({"task", "delete", "svc-ctr-bg"}).exit_code == 0);
    CHECK(ctr({"container", "delete", "svc-ctr-bg"}).exit_code == 0);
  }
  (void)ctr({"task", "delete", "--force", "svc-ctr-bg"});
  (void)ctr({"container", "delete", "svc-ctr-bg"});
  (void)ctr({"container", "delete", "svc-ctr-run"});
  containerd.stop(SIGTERM, 30s);
}
