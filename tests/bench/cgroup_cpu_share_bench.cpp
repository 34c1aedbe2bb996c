// Benchmark (label bench, no assertions): the CPU a hog gets under a 200 millicpu limit, through
// svc's cgroup driver and through runc with the same quota (linux.resources.cpu: quota 20000,
// period 100000), measured alternately in one run on this machine. The integration test only
// checks that the quota is the kernel's and that it throttles; how close the share comes to 0.2
// depends on the machine's load, so it is reported here. Prints Markdown for docs/BENCHMARKS.md.
// Usage: bench_cgroup_cpu_share [rounds] [seconds per measurement]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/host_probe.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kMillis = 200;

[[noreturn]] void spin() {
  volatile std::uint64_t x = 0;
  for (;;) x = x + 1;
}

// CPU seconds a cgroup (path below each hierarchy) used so far: cpuacct.usage (v1, ns) or
// cpu.stat usage_usec (v2).
double cgroup_cpu_seconds(const isolation::CgroupLayout& layout, const std::string& path) {
  if (layout.driver == "v2") {
    auto stat = read_file(layout.unified / path / "cpu.stat").value_or("");
    auto at = stat.find("usage_usec ");
    return at == std::string::npos ? -1 : std::atof(stat.c_str() + at + 11) / 1e6;
  }
  for (const char* h : {"cpuacct", "cpu,cpuacct"}) {
    auto usage = read_file(layout.root / h / path / "cpuacct.usage");
    if (usage) return std::atof(usage->c_str()) / 1e9;
  }
  return -1;
}

double share_over(std::chrono::duration<double> window, const std::function<double()>& cpu) {
  double c0 = cpu();
  auto w0 = Clock::now();
  std::this_thread::sleep_for(window);
  double c1 = cpu();
  double wall = std::chrono::duration<double>(Clock::now() - w0).count();
  return (c1 - c0) / wall;
}

// svc: the driver the daemon uses, a forked hog placed through the procs files.
double measure_svc(const isolation::CgroupLayout& layout, double seconds) {
  std::string base = fmt::format("svc-bench-cpu-{}", ::getpid());
  auto driver = isolation::make_cgroup_driver(layout, base);
  if (!driver) return -1;
  isolation::CgroupLimits limits;
  limits.cpu_millis = kMillis;
  if (!(*driver)->create("hog", limits)) return -1;
  auto fds = (*driver)->open_procs_files("hog");
  pid_t pid = fds ? ::fork() : -1;
  if (pid == 0) {
    for (const auto& fd : *fds)
      if (::write(fd.get(), "0", 1) != 1) ::_exit(1);
    spin();
  }
  double share = -1;
  if (pid > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into its quota
    share = share_over(std::chrono::duration<double>(seconds), [&] {
      return (*driver)->stats("hog").value_or(isolation::CgroupStats{}).cpu_seconds;
    });
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  (void)(*driver)->remove("hog");
  for (const auto& h : fs::directory_iterator(layout.root)) ::rmdir((h.path() / base).c_str());
  if (!layout.unified.empty()) ::rmdir((layout.unified / base).c_str());
  return share;
}

// runc: a busybox shell loop in a bundle whose config.json asks for the same quota.
double measure_runc(const isolation::CgroupLayout& layout, const fs::path& bundle, double seconds,
                    int round) {
  std::string id = fmt::format("svc-bench-cpu-{}-{}", ::getpid(), round);
  std::string path = "/" + id;
  auto spec = nlohmann::json::parse(read_file(bundle / "config.json.in").value());
  spec["linux"]["cgroupsPath"] = path;
  if (!write_file_atomic(bundle / "config.json", spec.dump(2))) return -1;
  fs::path root = bundle / "runc-state";
  auto started =
      run({"runc", "--root", root.string(), "run", "-d", "--bundle", bundle.string(), id},
          std::chrono::seconds(30));
  double share = -1;
  if (started.exit_code == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    share = share_over(std::chrono::duration<double>(seconds),
                       [&] { return cgroup_cpu_seconds(layout, path.substr(1)); });
  } else {
    std::fprintf(stderr, "runc run: %s%s\n", started.out.c_str(), started.err.c_str());
  }
  run({"runc", "--root", root.string(), "delete", "--force", id}, std::chrono::seconds(30));
  return share;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  if (!is_root()) {
    report_skip("bench_cgroup_cpu_share needs root (cgroups)");
    return 0;
  }
  auto busybox = run({"sh", "-c", "command -v runc >/dev/null && command -v busybox"});
  if (busybox.exit_code != 0) {
    report_skip("bench_cgroup_cpu_share needs runc and busybox (packaging/install-deps.sh)");
    return 0;
  }
  std::string busybox_path = busybox.out.substr(0, busybox.out.find('\n'));
  auto layout = isolation::probe_cgroups();
  TempDir work("svc-bench-cpu-");
  fs::path bundle = work.path() / "bundle";
  fs::create_directories(bundle / "rootfs" / "bin");
  for (const char* d : {"proc", "sys", "dev", "tmp"}) fs::create_directories(bundle / "rootfs" / d);
  fs::copy_file(busybox_path, bundle / "rootfs" / "bin" / "busybox");
  fs::create_symlink("busybox", bundle / "rootfs" / "bin" / "sh");
  if (run({"runc", "spec", "--bundle", bundle.string()}).exit_code != 0) return 1;
  auto spec = nlohmann::json::parse(read_file(bundle / "config.json").value());
  spec["process"]["terminal"] = false;
  spec["process"]["args"] = {"/bin/sh", "-c", "while :; do :; done"};
  spec["linux"]["resources"]["cpu"] = {{"quota", kMillis * 100}, {"period", 100000}};
  if (!write_file_atomic(bundle / "config.json.in", spec.dump(2))) return 1;

  std::vector<double> svc_shares, runc_shares;
  for (int r = 0; r < rounds; ++r) {
    svc_shares.push_back(measure_svc(layout, seconds));
    runc_shares.push_back(measure_runc(layout, bundle, seconds, r));
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  };
  double svc_mean = mean(svc_shares), runc_mean = mean(runc_shares);
  std::printf("### CPU share under a %lld millicpu limit (%d rounds of %.1f s, cgroups %s)\n\n",
              static_cast<long long>(kMillis), rounds, seconds, layout.driver.c_str());
  std::printf(
      "| | CPU share (CPU s per wall s) | of the limit | svc / runc |\n|---|---|---|---|\n");
  std::printf("| svc cgroup driver | %.3f | %.2f | %.2f |\n", svc_mean, svc_mean / 0.2,
              runc_mean > 0 ? svc_mean / runc_mean : 0);
  std::printf("| runc 1.1 (same quota) | %.3f | %.2f | 1.00 |\n", runc_mean, runc_mean / 0.2);
  std::printf("\nper round, svc: ");
  for (double s : svc_shares) std::printf("%.3f ", s);
  std::printf("; runc: ");
  for (double s : runc_shares) std::printf("%.3f ", s);
  std::printf("\n");
  return 0;
}
