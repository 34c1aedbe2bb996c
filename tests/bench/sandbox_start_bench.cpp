// Benchmark (label bench, no assertions): how fast a sandbox starts, side by side with crun and
// runc. Driven by sandbox_start.sh, which builds the bundle and the configs and mounts what crun
// needs. Prints Markdown for docs/BENCHMARKS.md.
//
//   bench_sandbox_start commands CASES_FILE RUNS SECONDS PARALLEL
//       CASES_FILE: lines "name<TAB>argv..." ("{id}" is replaced by a fresh container id).
//       Latency: RUNS rounds, one run of every case per round (interleaved, so load from other
//       work on the machine hits all cases alike); then each case for SECONDS with PARALLEL
//       workers: sandboxes started (and finished) per second.
//   bench_sandbox_start library ROOTFS SHIM RUNS SECONDS PARALLEL
//       The daemon's path: Runtime::create(start) + wait + remove in-process, the full sandbox
//       (user, pid, net, mount, ipc, uts, cgroup namespaces, idmapped overlay, cgroup limits,
//       seccomp default profile); the same throughput test; and the shims' memory.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/fs.hpp"
#include "isolation/host_probe.hpp"
#include "isolation/runtime.hpp"
#include "isolation/shim_cgroup.hpp"

extern char** environ;

using namespace svc;
using namespace svc::isolation;
using Clock = std::chrono::steady_clock;

namespace {

struct Summary {
  double median = 0, p95 = 0;
  std::size_t n = 0;
};

Summary summarize(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.median = v[v.size() / 2];
  s.p95 = v[std::min(v.size() - 1, v.size() * 95 / 100)];
  return s;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Case {
  std::string name;
  std::vector<std::string> argv;
};

// Spawns argv with {id} replaced, stdio to /dev/null; true when it exits 0.
bool run_once(const Case& c, const std::string& id) {
  std::vector<std::string> args;
  for (const auto& a : c.argv) {
    std::string s = a;
    auto pos = s.find("{id}");
    if (pos != std::string::npos) s.replace(pos, 4, id);
    args.push_back(s);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (int fd = 0; fd < 3; ++fd) posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Runs work(worker, n) from `parallel` threads for `seconds`; returns completions per second.
template <class Fn>
double throughput(int parallel, double seconds, Fn work, std::atomic<int>* failures) {
  std::atomic<long> done{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < parallel; ++w)
    threads.emplace_back([&, w] {
      for (long n = 0; Clock::now() < deadline; ++n) {
        if (work(w, n))
          ++done;
        else
          ++*failures;
      }
    });
  for (auto& t : threads) t.join();
  return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - t0).count();
}

int commands(const std::string& file, int runs, double seconds, int parallel) {
  std::vector<Case> cases;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (line.empty() || tab == std::string::npos) continue;
    Case c;
    c.name = line.substr(0, tab);
    std::istringstream words(line.substr(tab + 1));
    std::string w;
    while (words >> w) c.argv.push_back(w);
    cases.push_back(c);
  }
  std::map<std::string, std::vector<double>> times;
  std::map<std::string, int> failures;
  for (const auto& c : cases)  // warm-up (page cache, seccomp caches on disk)
    for (int i = 0; i < 3; ++i) run_once(c, fmt::format("warm-{}", i));
  for (int r = 0; r < runs; ++r) {
    for (std::size_t k = 0; k < cases.size(); ++k) {
      const Case& c = cases[(k + static_cast<std::size_t>(r)) % cases.size()];
      auto t0 = Clock::now();
      bool ok = run_once(c, fmt::format("lat-{}", r));
      double ms = ms_since(t0);
      if (ok)
        times[c.name].push_back(ms);
      else
        ++failures[c.name];
    }
  }
  std::printf("| case | median ms | p95 ms | runs | failed | sandboxes/s (%d workers, %.0f s) |\n",
              parallel, seconds);
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& c : cases) {
    std::atomic<int> tfail{0};
    double rate =
        seconds > 0
            ? throughput(
                  parallel, seconds,
                  [&](int w, long n) { return run_once(c, fmt::format("tp-{}-{}", w, n)); }, &tfail)
            : 0;
    Summary s = summarize(times[c.name]);
    std::printf("| %s | %.1f | %.1f | %zu | %d | %.0f%s |\n", c.name.c_str(), s.median, s.p95, s.n,
                failures[c.name], rate,
                tfail ? fmt::format(" ({} failed)", tfail.load()).c_str() : "");
    std::fflush(stdout);
  }
  return 0;
}

struct Memory {
  long rss_kb = 0, pss_kb = 0;
};

Memory memory_of(pid_t pid) {
  Memory m;
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto rollup = read_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
  auto field = [](const std::string& text, const char* key) {
    auto pos = text.find(key);
    return pos == std::string::npos ? 0L : std::atol(text.c_str() + pos + std::strlen(key));
  };
  if (status) m.rss_kb = field(*status, "VmRSS:");
  if (rollup) m.pss_kb = field(*rollup, "\nPss:");
  return m;
}

int library(const std::string& rootfs, const std::string& shim, int runs, double seconds,
            int parallel) {
  TempDir tmp("svc-bench-");
  std::string tag = std::to_string(::getpid());
  std::string base = "svc-bench-" + tag, shims = "svc-shims-bench-" + tag;
  auto driver = make_cgroup_driver(probe_cgroups(), base);
  if (!driver) {
    std::fprintf(stderr, "cgroups: %s\n", driver.error().message().c_str());
    return 1;
  }
  seccomp::Compiler compiler(tmp.path() / "seccomp-cache");
  UidPool::Options po;
  po.file = tmp.path() / "ids";
  po.base = 3'000'000'000u;
  po.count = 4096;
  UidPool pool(po);
  RuntimeOptions ro;
  ro.state_dir = tmp.path() / "sandboxes";
  ro.shim_path = shim;
  ro.shim_cgroup = shims;
  int rc = 0;
  {
    Runtime rt(ro, **driver, compiler, pool);
    auto spec_for = [&](std::vector<std::string> args) {
      SandboxSpec s;  // svc's defaults: every namespace, the default seccomp profile, pids 1024
      s.process.args = std::move(args);
      s.process.env = {"PATH=/bin"};
      s.process.rlimits = default_rlimits();
      s.rootfs.lower = {rootfs};
      s.stdio = StdioMode::kNull;
      return s;
    };
    SandboxSpec spec = spec_for({"/bin/true"});
    auto one = [&](const std::string& id) {
      CreateOptions o;
      o.start = true;
      auto c = rt.create(id, spec, o);
      if (!c) {
        std::fprintf(stderr, "create %s: %s\n", id.c_str(), c.error().message().c_str());
        return false;
      }
      auto w = rt.wait(id);
      auto r = rt.remove(id);
      return w && w->exit_code == 0 && r;
    };
    for (int i = 0; i < 5; ++i) one(fmt::format("warm-{}", i));
    std::vector<double> ms;
    int fails = 0;
    for (int r = 0; r < runs; ++r) {
      auto t0 = Clock::now();
      if (one(fmt::format("lat-{}", r)))
        ms.push_back(ms_since(t0));
      else
        ++fails;
    }
    std::atomic<int> tfail{0};
    double rate = throughput(
        parallel, seconds, [&](int w, long n) { return one(fmt::format("tp-{}-{}", w, n)); },
        &tfail);
    Summary s = summarize(ms);
    std::printf(
        "| svc library: create(start) + wait + remove, full sandbox | %.1f | %.1f | %zu | "
        "%d | %.0f |\n",
        s.median, s.p95, s.n, fails + tfail.load(), rate);

    // Shim memory: 20 sandboxes that logged a little and sleep.
    SandboxSpec idle = spec_for({"sh", "-c", "echo started; echo to stderr >&2; sleep 60"});
    idle.stdio = StdioMode::kLog;
    std::vector<Memory> mem;
    for (int i = 0; i < 20; ++i) {
      std::string id = fmt::format("idle-{}", i);
      CreateOptions o;
      o.start = true;
      (void)rt.create(id, idle, o);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    mem.clear();
    if (auto all = rt.list())
      for (const auto& sb : *all)
        if (sb.shim_alive) mem.push_back(memory_of(sb.shim_pid));
    std::vector<double> rss, pss;
    for (const auto& m : mem) {
      rss.push_back(static_cast<double>(m.rss_kb));
      pss.push_back(static_cast<double>(m.pss_kb));
    }
    Summary r = summarize(rss), p = summarize(pss);
    std::printf(
        "\nsvc-shim memory, %zu idle sandboxes that logged: VmRSS median %.0f KiB (max "
        "%.0f), Pss median %.0f KiB\n",
        r.n, r.median, rss.empty() ? 0.0 : *std::max_element(rss.begin(), rss.end()), p.median);
    if (auto all = rt.list())
      for (const auto& sb : *all) (void)rt.remove(sb.id, true);
  }
  auto mounts = cgroup_mounts();
  for (int i = 0; i < 300 && !remove_shim_cgroups(mounts, shims); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (const auto& m : mounts) {
    ::rmdir((m.mount_point / base / "sandboxes").c_str());
    ::rmdir((m.mount_point / base).c_str());
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 5 && a[0] == "commands")
    return commands(a[1], std::stoi(a[2]), std::stod(a[3]), std::stoi(a[4]));
  if (a.size() == 6 && a[0] == "library")
    return library(a[1], a[2], std::stoi(a[3]), std::stod(a[4]), std::stoi(a[5]));
  std::fprintf(stderr,
               "usage: bench_sandbox_start commands CASES_FILE RUNS SECONDS PARALLEL\n"
               "       bench_sandbox_start library ROOTFS SHIM RUNS SECONDS PARALLEL\n");
  return 2;
}
