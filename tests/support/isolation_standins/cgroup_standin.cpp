// Test-only stand-in for the cgroup v1 driver (see README.md): enough to run sandboxes in the
// real kernel's v1 hierarchies until the real drivers are merged.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

Result<> write_value(const fs::path& p, const std::string& v) {
  UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + p.string());
  if (::write(fd.get(), v.data(), v.size()) != static_cast<ssize_t>(v.size()))
    return fail_errno("write " + p.string());
  return {};
}

std::uint64_t read_u64(const fs::path& p) {
  auto t = read_file(p);
  return t ? std::strtoull(t->c_str(), nullptr, 10) : 0;
}

class V1StandIn final : public CgroupDriver {
 public:
  V1StandIn(std::map<std::string, fs::path> mounts, std::string base)
      : mounts_(std::move(mounts)), base_(std::move(base)) {}
  std::string_view version() const override { return "v1"; }

  std::vector<fs::path> dirs(std::string_view rel) const {
    std::vector<fs::path> out;
    std::set<fs::path> seen;
    for (const char* c : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
      auto it = mounts_.find(c);
      if (it == mounts_.end() || !seen.insert(it->second).second) continue;
      out.push_back(it->second / base_ / rel);
    }
    return out;
  }
  fs::path dir(const char* controller, std::string_view rel) const {
    auto it = mounts_.find(controller);
    return it == mounts_.end() ? fs::path() : it->second / base_ / rel;
  }

  Result<> create(std::string_view rel, const CgroupLimits& limits) override {
    for (const auto& d : dirs(rel)) {
      SVC_TRY(make_dirs(d.parent_path()));
      if (::mkdir(d.c_str(), 0755) != 0) {
        if (errno == EEXIST) return fail(Code::kAlreadyExists, "cgroup {} exists", d.string());
        return fail_errno("mkdir " + d.string());
      }
    }
    return update(rel, limits);
  }
  Result<> update(std::string_view rel, const CgroupLimits& l) override {
    if (l.cpu_millis > 0) {
      fs::path cpu = dir("cpu", rel);
      SVC_TRY(write_value(cpu / "cpu.cfs_period_us", std::to_string(l.cpu_period_us)));
      SVC_TRY(write_value(cpu / "cpu.cfs_quota_us",
                          std::to_string(l.cpu_millis * static_cast<std::int64_t>(l.cpu_period_us) / 1000)));
    }
    if (l.memory_bytes > 0) {
      fs::path mem = dir("memory", rel);
      SVC_TRY(write_value(mem / "memory.limit_in_bytes", std::to_string(l.memory_bytes)));
      if (fs::exists(mem / "memory.memsw.limit_in_bytes"))
        SVC_TRY(write_value(mem / "memory.memsw.limit_in_bytes", std::to_string(l.memory_bytes)));
    }
    if (l.pids > 0) SVC_TRY(write_value(dir("pids", rel) / "pids.max", std::to_string(l.pids)));
    return {};
  }
  Result<> add_process(std::string_view rel, pid_t pid) override {
    for (const auto& d : dirs(rel)) SVC_TRY(write_value(d / "cgroup.procs", std::to_string(pid)));
    return {};
  }
  Result<std::vector<UniqueFd>> open_procs_files(std::string_view rel) override {
    std::vector<UniqueFd> out;
    for (const auto& d : dirs(rel)) {
      UniqueFd fd(::open((d / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd) return fail_errno("open " + (d / "cgroup.procs").string());
      out.push_back(std::move(fd));
    }
    return out;
  }
  Result<UniqueFd> dir_fd(std::string_view) override {
    return fail(Code::kUnimplemented, "v1 has no single cgroup dir");
  }
  Result<CgroupStats> stats(std::string_view rel) override {
    CgroupStats s;
    if (!fs::exists(dir("pids", rel))) return fail(Code::kNotFound, "no cgroup {}", rel);
    s.cpu_seconds = read_u64(dir("cpuacct", rel) / "cpuacct.usage") / 1e9;
    s.memory_bytes = read_u64(dir("memory", rel) / "memory.usage_in_bytes");
    s.memory_peak_bytes = read_u64(dir("memory", rel) / "memory.max_usage_in_bytes");
    s.pids = read_u64(dir("pids", rel) / "pids.current");
    if (auto t = read_file(dir("memory", rel) / "memory.oom_control")) {
      auto pos = t->find("oom_kill ");
      if (pos != std::string::npos) s.oom_kills = std::strtoull(t->c_str() + pos + 9, nullptr, 10);
    }
    return s;
  }
  Result<std::vector<pid_t>> pids(std::string_view rel) override {
    auto t = read_file(dir("pids", rel) / "cgroup.procs");
    if (!t) return fail(Code::kNotFound, "no cgroup {}", rel);
    std::vector<pid_t> out;
    std::istringstream in(*t);
    pid_t p;
    while (in >> p) out.push_back(p);
    return out;
  }
  Result<> kill_all(std::string_view rel, int sig) override {
    fs::path freezer = dir("freezer", rel);
    bool frozen = !freezer.empty() && write_value(freezer / "freezer.state", "FROZEN").has_value();
    for (int round = 0; round < 50; ++round) {
      auto ps = pids(rel);
      if (!ps) return tl::unexpected(ps.error());
      if (ps->empty()) break;
      for (pid_t p : *ps) ::kill(p, sig);
      if (sig != SIGKILL) break;
      if (frozen) (void)write_value(freezer / "freezer.state", "THAWED");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (frozen) (void)write_value(freezer / "freezer.state", "THAWED");
    return {};
  }
  Result<> remove(std::string_view rel) override {
    for (const auto& d : dirs(rel)) {
      for (int i = 0; i < 500; ++i) {
        if (::rmdir(d.c_str()) == 0 || errno == ENOENT) break;
        if (errno != EBUSY) return fail_errno("rmdir " + d.string());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    return {};
  }

 private:
  std::map<std::string, fs::path> mounts_;
  std::string base_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v1(std::map<std::string, fs::path> mounts,
                                             std::string base) {
  return std::make_unique<V1StandIn>(std::move(mounts), std::move(base));
}

std::unique_ptr<CgroupDriver> make_cgroup_v2(fs::path, std::string) { return nullptr; }

Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver(const CgroupLayout& layout,
                                                         std::string base) {
  if (layout.driver != "v1") return fail(Code::kUnimplemented, "stand-in: v1 only");
  std::map<std::string, fs::path> mounts;
  for (const auto& c : layout.controllers)
    if (c.version == "v1") mounts[c.name] = layout.root / c.name;
  return make_cgroup_v1(std::move(mounts), std::move(base));
}

}  // namespace svc::isolation
