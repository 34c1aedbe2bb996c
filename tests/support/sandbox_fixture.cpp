#include "tests/support/sandbox_fixture.hpp"

#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "isolation/bridge.hpp"
#include "isolation/host_probe.hpp"
#include "isolation/log_reader.hpp"
#include "isolation/shim_cgroup.hpp"
#include "tests/support/process.hpp"

namespace svc::test {

namespace fs = std::filesystem;
using namespace svc::isolation;

std::string shim_path() { return SVC_SHIM; }
std::string svc_runtime_path() { return SVC_RUNTIME; }

bool make_busybox_rootfs(const fs::path& dir, std::string* why) {
  const char* busybox = "/bin/busybox";
  if (::access(busybox, X_OK) != 0) {
    if (why) *why = "/bin/busybox is missing (Debian package busybox-static)";
    return false;
  }
  std::error_code ec;
  for (const char* d : {"bin", "etc", "tmp", "proc", "sys", "dev", "root", "home", "var/tmp"})
    fs::create_directories(dir / d, ec);
  fs::permissions(dir / "tmp", fs::perms::all | fs::perms::sticky_bit, ec);
  fs::copy_file(busybox, dir / "bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) {
    if (why) *why = "copy /bin/busybox: " + ec.message();
    return false;
  }
  auto list = run({busybox, "--list"});
  std::istringstream in(list.out);
  std::string applet;
  while (in >> applet)
    if (applet != "busybox") fs::create_symlink("busybox", dir / "bin" / applet, ec);
  // The probe the isolation tests run inside (tests/integration/isolation/probe_main.cpp), and a
  // setuid-root copy of it.
  if (::access(SVC_PROBE, X_OK) == 0) {
    fs::copy_file(SVC_PROBE, dir / "bin/probe", fs::copy_options::overwrite_existing, ec);
    fs::copy_file(SVC_PROBE, dir / "bin/probe-suid", fs::copy_options::overwrite_existing, ec);
    ::chown((dir / "bin/probe-suid").c_str(), 0, 0);
    ::chmod((dir / "bin/probe-suid").c_str(), 04755);
  }
  std::ofstream(dir / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                       "nobody:x:65534:65534:nobody:/:/bin/false\n";
  std::ofstream(dir / "etc/group") << "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n";
  return true;
}

std::vector<std::string> mount_lines() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // Drop the mount id and parent id: only what is mounted where matters.
    std::istringstream f(line);
    std::string id, parent, rest;
    f >> id >> parent;
    std::getline(f, rest);
    out.push_back(rest);
  }
  return out;
}

SandboxFixture::SandboxFixture() {
  if (!is_root()) {
    report_skip("needs root (real namespaces, mounts and cgroups)");
    return;
  }
  rootfs_ = tmp_.path() / "rootfs";
  std::string why;
  if (!make_busybox_rootfs(rootfs_, &why)) {
    report_skip(why);
    return;
  }
  ::chmod(tmp_.path().c_str(), 0755);
  std::string pid = std::to_string(::getpid());
  cgroup_base_ = "svc-test-" + pid;
  shim_cgroup_ = "svc-shims-test-" + pid;
  bridge_.name = "svcb" + std::to_string(::getpid() % 100000);
  bridge_.subnet = "10.213." + std::to_string(::getpid() % 250) + ".0/24";
  bridge_.ipam_file = tmp_.path() / "bridge-addresses";
  if (auto f = read_file("/proc/sys/net/ipv4/ip_forward")) ip_forward_ = *f;
  auto drv = make_cgroup_driver(probe_cgroups(), cgroup_base_);
  REQUIRE(drv);
  driver_ = std::move(*drv);
  compiler_ = std::make_unique<seccomp::Compiler>();
  UidPool::Options po;
  po.file = tmp_.path() / "uid-ranges";
  // A slice of the id space per test process: parallel runs never share a range.
  po.base = 1'100'000'000u + static_cast<std::uint32_t>(::getpid() % 2000) * 65536u * 8u;
  po.count = 8;
  pool_ = std::make_unique<UidPool>(po);
  runtime_ = make_runtime();
  usable_ = true;
}

std::unique_ptr<Runtime> SandboxFixture::make_runtime(BridgeOptions bridge) const {
  return make_runtime([&bridge](RuntimeOptions& ro) {
    ro.bridge.reach_host = bridge.reach_host;
    ro.bridge.reach_each_other = bridge.reach_each_other;
    ro.bridge.masquerade = bridge.masquerade;
  });
}

std::unique_ptr<Runtime> SandboxFixture::make_runtime(
    const std::function<void(RuntimeOptions&)>& adjust) const {
  RuntimeOptions ro;
  ro.state_dir = state_dir();
  ro.shim_path = shim_path();
  ro.shim_cgroup = shim_cgroup_;
  ro.bridge = bridge_;
  if (adjust) adjust(ro);
  return std::make_unique<Runtime>(ro, *driver_, *compiler_, *pool_);
}

SandboxFixture::~SandboxFixture() {
  if (!runtime_) return;
  if (auto all = runtime_->list()) {
    for (const auto& s : *all) {
      auto r = runtime_->remove(s.id, true);
      if (!r) WARN("cleanup: remove " << s.id << ": " << r.error().message());
    }
  }
  runtime_.reset();
  if (::if_nametoindex(bridge_.name.c_str()) != 0) {
    if (auto r = remove_bridge(bridge_); !r) WARN("cleanup: bridge: " << r.error().message());
  }
  if (!ip_forward_.empty()) {
    auto now = read_file("/proc/sys/net/ipv4/ip_forward");
    if (now && *now != ip_forward_) {
      std::ofstream f("/proc/sys/net/ipv4/ip_forward");
      f << ip_forward_;
    }
  }
  // The shims leave once their task is gone; then their cgroup and ours can go.
  auto mounts = cgroup_mounts();
  for (int i = 0; i < 500; ++i) {
    if (remove_shim_cgroups(mounts, shim_cgroup_)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Last resort, for a test that failed half-way: whatever is left under our cgroup base is
  // killed and removed, deepest first.
  for (const auto& m : mounts) {
    fs::path base = m.mount_point / cgroup_base_;
    std::error_code ec;
    if (!fs::exists(base, ec)) continue;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
         it.increment(ec))
      if (it->is_directory(ec)) dirs.push_back(it->path());
    dirs.push_back(base);
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return a.string().size() > b.string().size();
    });
    for (const auto& d : dirs) {
      for (int i = 0; i < 200 && ::rmdir(d.c_str()) != 0 && errno == EBUSY; ++i) {
        if (auto procs = read_file(d / "cgroup.procs")) {
          std::istringstream in(*procs);
          pid_t p;
          while (in >> p) ::kill(p, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
}

SandboxSpec SandboxFixture::spec(std::vector<std::string> args) const {
  SandboxSpec s;
  s.process.args = std::move(args);
  s.process.env = {"PATH=/bin", "HOME=/root"};
  s.process.rlimits = default_rlimits();
  s.rootfs.lower = {rootfs_};
  return s;
}

std::string SandboxFixture::next_id(const std::string& prefix) {
  // Unique across fixtures of this process too: a cgroup left by a failed test cannot clash.
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

ExitRecord SandboxFixture::run(const std::string& id, const SandboxSpec& spec,
                               std::chrono::milliseconds timeout) {
  auto created = runtime_->create(id, spec);
  if (!created) FAIL("create " << id << ": " << created.error().message());
  auto started = runtime_->start(id);
  if (!started) FAIL("start " << id << ": " << started.error().message());
  auto exit = runtime_->wait(id, timeout);
  if (!exit) FAIL("wait " << id << ": " << exit.error().message());
  return *exit;
}

std::string SandboxFixture::log_text(const std::string& id) const {
  auto lines = read_log(runtime_->sandbox_dir(id), {});
  std::string out;
  if (!lines) return "<log: " + lines.error().message() + ">";
  for (const auto& l : *lines) {
    out += l.text;
    if (!l.partial) out += "\n";
  }
  return out;
}

}  // namespace svc::test
