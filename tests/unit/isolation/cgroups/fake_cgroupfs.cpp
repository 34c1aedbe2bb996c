#include "fake_cgroupfs.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <system_error>

#include <catch2/catch.hpp>

namespace svc::test {

namespace fs = std::filesystem;

FakeCgroupFs::FakeCgroupFs(Options options) : options_(options) {}

void FakeCgroupFs::put(const fs::path& file, std::string_view text) {
  REQUIRE(write_file_atomic(file, text));
}

std::string FakeCgroupFs::get(const fs::path& file) {
  auto r = read_file(file);
  if (!r) return "<missing>";
  std::string s = *r;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

fs::path FakeCgroupFs::add_v1(const std::string& name) {
  fs::path h = root() / name;
  fs::create_directories(h);
  std::set<std::string> controllers;
  std::istringstream in(name);
  std::string c;
  while (std::getline(in, c, ',')) controllers.insert(c);
  v1_[h] = controllers;
  populate(h);
  return h;
}

std::map<std::string, fs::path> FakeCgroupFs::v1_mounts() const {
  std::map<std::string, fs::path> out;
  for (const auto& [h, controllers] : v1_)
    for (const auto& c : controllers) out[c] = h;
  return out;
}

fs::path FakeCgroupFs::add_v2(std::string_view controllers) {
  v2_ = root() / "unified";
  fs::create_directories(v2_);
  put(v2_ / "cgroup.controllers", std::string(controllers) + "\n");
  put(v2_ / "cgroup.subtree_control", "");
  put(v2_ / "cgroup.procs", "");
  return v2_;
}

isolation::CgroupFsOps FakeCgroupFs::ops() {
  isolation::CgroupFsOps o;
  o.make_dir = [this](const fs::path& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0) return errno;
    populate(dir);
    return 0;
  };
  o.remove_dir = [this](const fs::path& dir) { return remove(dir); };
  return o;
}

void FakeCgroupFs::populate(const fs::path& dir) {
  for (const auto& [h, controllers] : v1_) {
    // Below h itself, not below a sibling whose name starts the same ("cpu" and "cpuset").
    if (dir != h && dir.native().rfind(h.native() + "/", 0) != 0) continue;
    put(dir / "cgroup.procs", "");
    put(dir / "tasks", "");
    put(dir / "cgroup.event_control", "");
    for (const auto& c : controllers) {
      if (c == "cpu") {
        put(dir / "cpu.cfs_period_us", "100000\n");
        put(dir / "cpu.cfs_quota_us", "-1\n");
        put(dir / "cpu.shares", "1024\n");
        put(dir / "cpu.rt_period_us", "1000000\n");
        put(dir / "cpu.rt_runtime_us", "0\n");
      } else if (c == "cpuset") {
        // A new cpuset cgroup starts empty (the kernel's rule); the root has the machine's.
        put(dir / "cpuset.cpus", dir == h ? "0-1\n" : "\n");
        put(dir / "cpuset.mems", dir == h ? "0\n" : "\n");
      } else if (c == "devices") {
        put(dir / "devices.allow", "");
        put(dir / "devices.deny", "");
      } else if (c == "cpuacct") {
        put(dir / "cpuacct.usage", "0\n");
      } else if (c == "memory") {
        put(dir / "memory.limit_in_bytes", "9223372036854771712\n");
        if (options_.memsw) put(dir / "memory.memsw.limit_in_bytes", "9223372036854771712\n");
        put(dir / "memory.swappiness", "60\n");
        put(dir / "memory.usage_in_bytes", "0\n");
        put(dir / "memory.max_usage_in_bytes", "0\n");
        put(dir / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        put(dir / "memory.soft_limit_in_bytes", "9223372036854771712\n");
      } else if (c == "pids") {
        if (options_.v1_pids_max) put(dir / "pids.max", "max\n");
        put(dir / "pids.current", "0\n");
      } else if (c == "freezer") {
        put(dir / "freezer.state", "THAWED\n");
      }
    }
    return;
  }
  if (!v2_.empty() && dir.native().rfind(v2_.native(), 0) == 0 && dir != v2_) {
    // A child gets the controllers its parent's subtree_control enables.
    // (The kernel lists "cpu memory"; a fake file holds the "+cpu +memory" last written.)
    std::string enabled = get(dir.parent_path() / "cgroup.subtree_control");
    std::erase(enabled, '+');
    put(dir / "cgroup.controllers", enabled + "\n");
    put(dir / "cgroup.subtree_control", "");
    put(dir / "cgroup.procs", "");
    put(dir / "cgroup.events", "populated 0\nfrozen 0\n");
    put(dir / "cgroup.freeze", "0\n");
    if (options_.v2_kill) put(dir / "cgroup.kill", "");
    put(dir / "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    std::istringstream in(enabled);
    std::string c;
    while (in >> c) {
      if (c == "cpu") {
        put(dir / "cpu.max", "max 100000\n");
        put(dir / "cpu.weight", "100\n");
      } else if (c == "cpuset") {
        put(dir / "cpuset.cpus", "\n");
        put(dir / "cpuset.mems", "\n");
      } else if (c == "memory") {
        put(dir / "memory.low", "0\n");
        put(dir / "memory.max", "max\n");
        if (options_.v2_swap) put(dir / "memory.swap.max", "max\n");
        put(dir / "memory.current", "0\n");
        if (options_.v2_peak) put(dir / "memory.peak", "0\n");
        put(dir / "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
      } else if (c == "pids") {
        put(dir / "pids.max", "max\n");
        put(dir / "pids.current", "0\n");
      }
    }
  }
}

int FakeCgroupFs::remove(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return ENOENT;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory()) return EBUSY;                  // child cgroups
  if (!get(dir / "cgroup.procs").empty()) return EBUSY;  // tasks left
  fs::remove_all(dir, ec);
  return ec ? ec.value() : 0;
}

pid_t spawn_pausing_child() {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT}) ::signal(sig, SIG_DFL);
    ::close(ready[0]);
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  (void)!::read(ready[0], &c, 1);
  ::close(ready[0]);
  return child;
}

}  // namespace svc::test
