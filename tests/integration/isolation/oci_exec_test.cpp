// svc-runtime exec and --console-socket, driven as runc is by conmon and containerd (root;
// busybox-static bundle), and podman run -it / podman exec with --runtime svc-runtime (skipped
// with the reason when podman or conmon is not installed). Skips say SVC_SKIPPED
// (tests/support/skip.hpp).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <sstream>
#include <thread>

#include "common/fs.hpp"
#include "isolation/shim_cgroup.hpp"
#include "isolation/terminal.hpp"
#include "tests/support/process.hpp"
#include "tests/support/pty_session.hpp"
#include "tests/support/sandbox_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string id_base() {
  return std::to_string(3'400'000'000u +
                        static_cast<std::uint32_t>(::getpid() % 500) * 65536u * 4u);
}

// A bundle, svc-runtime state, cgroups and an id range private to this process; the destructor
// deletes every container and the cgroup directories.
struct Bundle {
  TempDir dir{"svc-oci-exec-"};
  std::string tag = std::to_string(::getpid());
  fs::path root() const { return dir.path() / "state"; }
  std::vector<std::string> base() const {
    return {test::svc_runtime_path(), "--root",           root().string(),
            "--cgroup-base",          "svc-ociex-" + tag, "--shim-cgroup",
            "svc-shims-ociex-" + tag, "--id-base",        id_base()};
  }
  ~Bundle() {
    if (!test::is_root()) return;
    auto ids = rt({"list", "-q"});
    std::istringstream in(ids.out);
    std::string id;
    while (in >> id) rt({"delete", "--force", id});
    auto mounts = isolation::cgroup_mounts();
    for (int i = 0; i < 500; ++i) {
      if (isolation::remove_shim_cgroups(mounts, "svc-shims-ociex-" + tag)) break;
      std::this_thread::sleep_for(10ms);
    }
    (void)isolation::remove_shim_cgroups(mounts, "svc-ociex-" + tag);
  }
  test::RunResult rt(std::vector<std::string> args, const std::string& input = "") const {
    std::vector<std::string> argv = base();
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv, 30s, {{"SVC_SHIM", test::shim_path()}}, input);
  }
  // A verb that leaves a container running, so its stdio is not our capture pipe.
  test::RunResult rt_detached(const std::vector<std::string>& args) const {
    std::string cmd = "exec";
    for (const auto& a : base()) cmd += " '" + a + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " </dev/null >/dev/null 2>" + (dir.path() / "rt.err").string();
    auto r = test::run({"sh", "-c", cmd}, 30s, {{"SVC_SHIM", test::shim_path()}});
    if (auto e = read_file(dir.path() / "rt.err")) r.err = *e;
    return r;
  }
  void configure(const std::vector<std::string>& args, bool terminal = false) const {
    auto text = read_file(dir.path() / "config.json");
    REQUIRE(text);
    json c = json::parse(*text);
    c["process"]["args"] = args;
    c["process"]["terminal"] = terminal;
    c["process"]["consoleSize"] = {{"height", 31}, {"width", 97}};
    REQUIRE(write_file_atomic(dir.path() / "config.json", c.dump(2)));
  }
};

bool prepare(Bundle& b) {
  if (!test::is_root()) {
    test::report_skip("needs root");
    return false;
  }
  std::string why;
  if (!test::make_busybox_rootfs(b.dir.path() / "rootfs", &why)) {
    test::report_skip(why);
    return false;
  }
  REQUIRE(
      test::run({test::svc_runtime_path(), "spec", "--bundle", b.dir.path().string()}).exit_code ==
      0);
  return true;
}

// An OCI console socket as conmon and containerd serve it: receives one pty master.
class ConsoleSocket {
 public:
  explicit ConsoleSocket(fs::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
  }
  ~ConsoleSocket() {
    if (master_ >= 0) ::close(master_);
    ::close(fd_);
  }
  const fs::path& path() const { return path_; }
  // The master sent by the runtime (-1 when none came in time).
  int master(std::chrono::milliseconds timeout = 10s) {
    if (master_ >= 0) return master_;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return -1;
    auto fd = isolation::receive_fd(c, timeout);
    ::close(c);
    if (!fd) return -1;
    master_ = fd->release();
    return master_;
  }
  // Reads the terminal until text shows (or EOF/timeout).
  bool expect(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (screen_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      char buf[4096];
      ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) return screen_.find(text) != std::string::npos;
      screen_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  void type(const std::string& s) {
    REQUIRE(::write(master_, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }
  const std::string& screen() const { return screen_; }

 private:
  fs::path path_;
  int fd_ = -1;
  int master_ = -1;
  std::string screen_;
};

}  // namespace

TEST_CASE("svc-runtime exec: exit codes, output, a process file, refusals", "[oci][exec]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure({"sleep", "1000"});
  std::string id = "ociex-" + b.tag;
  auto created = b.rt_detached({"run", "--detach", "--bundle", b.dir.path().string(), id});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  auto r = b.rt({"exec", id, "sh", "-c", "echo out-$(id -u); echo err >&2; exit 4"});
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.out == "out-0\n");
  CHECK(r.err == "err\n");
  // stdin is svc-runtime's, as with runc.
  CHECK(b.rt({"exec", id, "cat"}, "piped\n").out == "piped\n");
  // The process runs in the container: its pid namespace (pid 1 is the container's sleep).
  CHECK(b.rt({"exec", id, "cat", "/proc/1/cmdline"}).out.find("sleep") == 0);
  // A process file as conmon writes it; flags add to it.
  json proc = {{"args", {"sh", "-c", "echo $A $B $(pwd) $(id -u); exit 6"}},
               {"env", {"A=from-file", "PATH=/bin"}},
               {"cwd", "/tmp"},
               {"user", {{"uid", 1000}, {"gid", 1000}}},
               {"terminal", false}};
  REQUIRE(write_file_atomic(b.dir.path() / "process.json", proc.dump()));
  fs::path pid_file = b.dir.path() / "exec.pid";
  auto f = b.rt({"exec", "--process", (b.dir.path() / "process.json").string(), "-e", "B=flag",
                 "--pid-file", pid_file.string(), id});
  INFO(f.err);
  CHECK(f.exit_code == 6);
  CHECK(f.out == "from-file flag /tmp 1000\n");
  CHECK(read_file(pid_file).has_value());
  // --detach: the process outlives svc-runtime.
  auto d = b.rt_detached({"exec", "--detach", "--pid-file", pid_file.string(), id, "sleep", "30"});
  INFO(d.err);
  REQUIRE(d.exit_code == 0);
  auto pid = read_file(pid_file);
  REQUIRE(pid);
  CHECK(::kill(std::stoi(*pid), 0) == 0);
  // Refusals: no program, a terminal without a console socket, an unknown container.
  CHECK(b.rt({"exec", id}).exit_code != 0);
  auto t = b.rt({"exec", "-t", id, "sh"});
  CHECK(t.exit_code != 0);
  CHECK(t.err.find("--console-socket") != std::string::npos);
  CHECK(b.rt({"exec", "no-such", "true"}).exit_code != 0);
  REQUIRE(b.rt({"kill", id, "KILL"}).exit_code == 0);
  REQUIRE(test::wait_for([&] { return b.rt({"exec", id, "true"}).exit_code != 0; }, 10s));
}

TEST_CASE("svc-runtime: process.terminal and exec -t send a pty master to --console-socket",
          "[oci][tty]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure({"sh"}, true);
  std::string id = "ocitty-" + b.tag;
  ConsoleSocket console(b.dir.path() / "console.sock");
  auto created = b.rt_detached({"create", "--bundle", b.dir.path().string(), "--console-socket",
                                console.path().string(), id});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  REQUIRE(console.master() >= 0);
  REQUIRE(b.rt({"start", id}).exit_code == 0);
  console.type("tty; stty size\r");
  CHECK(console.expect("/dev/pts/0"));
  CHECK(console.expect("31 97"));  // process.consoleSize
  INFO(console.screen());

  ConsoleSocket exec_console(b.dir.path() / "exec-console.sock");
  std::thread exec_thread([&] {
    auto r = b.rt({"exec", "-t", "--console-socket", exec_console.path().string(), id, "sh", "-c",
                   "tty; read line; echo got-$line; exit 7"});
    CHECK(r.exit_code == 7);
  });
  REQUIRE(exec_console.master() >= 0);
  CHECK(exec_console.expect("/dev/pts/1"));
  exec_console.type("typed\r");
  CHECK(exec_console.expect("got-typed"));
  exec_thread.join();
  console.type("exit 0\r");
}

TEST_CASE("podman run -it and podman exec with --runtime svc-runtime", "[oci][podman]") {
  if (!test::is_root()) SVC_SKIP("needs root");
  if (::access("/usr/bin/podman", X_OK) != 0 || ::access("/usr/bin/conmon", X_OK) != 0)
    SVC_SKIP("podman or conmon is not installed (apt-get install podman)");
  TempDir dir("svc-podman-");
  std::string why;
  if (!test::make_busybox_rootfs(dir.path() / "rootfs", &why)) SVC_SKIP(why);
  // podman's own storage and state, and svc-runtime's, in the temp dir; cgroups of this test's
  // own names. conmon's cgroupfs manager makes libpod_parent/: removed after unless it was there.
  std::string tag = std::to_string(::getpid());
  std::vector<std::string> podman = {"/usr/bin/podman",
                                     "--root",
                                     (dir.path() / "storage").string(),
                                     "--runroot",
                                     (dir.path() / "run").string(),
                                     "--storage-driver",
                                     "vfs",
                                     "--cgroup-manager",
                                     "cgroupfs",
                                     "--events-backend",
                                     "file",
                                     "--runtime",
                                     test::svc_runtime_path(),
                                     "--runtime-flag",
                                     "root=" + (dir.path() / "svc-runtime").string(),
                                     "--runtime-flag",
                                     "cgroup-base=svc-pm-" + tag,
                                     "--runtime-flag",
                                     "shim-cgroup=svc-shims-pm-" + tag,
                                     "--runtime-flag",
                                     "id-base=" + id_base()};
  std::vector<fs::path> hierarchies;
  for (const auto& m : isolation::cgroup_mounts()) hierarchies.push_back(m.mount_point);
  std::vector<fs::path> libpod_made;
  for (const auto& h : hierarchies)
    if (!fs::exists(h / "libpod_parent")) libpod_made.push_back(h / "libpod_parent");
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() { fn(); }
  } cleanup{[&] {
    // Also when a check failed half-way: no container of this test outlives it.
    std::vector<std::string> rm = podman;
    rm.insert(rm.end(), {"rm", "-a", "-f", "-t", "0"});
    test::run(rm, 60s, {{"SVC_SHIM", test::shim_path()}});
    std::vector<fs::path> made = libpod_made;
    for (const auto& h : hierarchies)
      for (const char* base : {"svc-pm-", "svc-shims-pm-"}) made.push_back(h / (base + tag));
    for (const auto& p : made)
      if (fs::exists(p))
        test::run({"find", p.string(), "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"});
  }};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> a = podman;
    a.insert(a.end(), args.begin(), args.end());
    return a;
  };
  std::map<std::string, std::string> env = {{"SVC_SHIM", test::shim_path()}};
  REQUIRE(test::run({"tar", "-C", (dir.path() / "rootfs").string(), "-cf",
                     (dir.path() / "rootfs.tar").string(), "."})
              .exit_code == 0);
  auto imported =
      test::run(with({"import", (dir.path() / "rootfs.tar").string(), "svc-busybox"}), 120s, env);
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  const std::vector<std::string> run_flags = {"--network", "none", "--ulimit", "nofile=1024:1024"};
  std::string name = "svc-podman-" + std::to_string(::getpid());
  {
    std::vector<std::string> a = with({"run", "-it", "--rm", "--name", name + "-tty"});
    a.insert(a.end(), run_flags.begin(), run_flags.end());
    a.insert(a.end(), {"svc-busybox", "/bin/sh"});
    test::PtySession s(a, 24, 80, env);
    REQUIRE(s.expect("# ", 60s));
    s.type("echo $((6*7))-$(tty)\r");
    CHECK(s.expect("42-/dev/pts/0"));
    s.type("exit 5\r");
    auto rc = s.wait(60s);
    INFO(s.transcript());
    REQUIRE(rc);
    CHECK(*rc == 5);
  }
  {
    std::vector<std::string> a = with({"run", "-d", "--name", name});
    a.insert(a.end(), run_flags.begin(), run_flags.end());
    a.insert(a.end(), {"svc-busybox", "sleep", "1000"});
    auto started = test::run(a, 60s, env);
    INFO(started.err);
    REQUIRE(started.exit_code == 0);
    auto e = test::run(with({"exec", name, "sh", "-c", "echo in-$(cat /proc/1/cmdline); exit 3"}),
                       60s, env);
    INFO(e.err);
    CHECK(e.exit_code == 3);
    CHECK(e.out.find("in-sleep") != std::string::npos);
    test::PtySession s(with({"exec", "-it", name, "sh"}), 24, 80, env);
    REQUIRE(s.expect("# ", 60s));
    s.type("tty\r");
    CHECK(s.expect("/dev/pts/"));
    s.type("exit 4\r");
    auto rc = s.wait(60s);
    REQUIRE(rc);
    CHECK(*rc == 4);
    test::run(with({"rm", "-f", "-t", "0", name}), 60s, env);
  }
}
