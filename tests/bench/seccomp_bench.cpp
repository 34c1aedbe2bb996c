// Benchmark (label bench, no assertions): what a sandbox start pays for seccomp in svc.
// Compiling the default profile with libseccomp (what crun and runc do on every start) against
// the paths svc takes: a compiled program from the in-memory cache, from the disk cache after a
// daemon restart, and the seccomp(2) load in a fresh child. Prints a Markdown table for
// docs/BENCHMARKS.md. Usage: bench_seccomp [iterations]
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/fs.hpp"
#include "isolation/seccomp/seccomp.hpp"

using namespace svc;
using namespace svc::isolation::seccomp;
using Clock = std::chrono::steady_clock;

namespace {

struct Summary {
  double median_us = 0, p95_us = 0;
};

Summary summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Summary s;
  if (us.empty()) return s;
  s.median_us = us[us.size() / 2];
  s.p95_us = us[std::min(us.size() - 1, us.size() * 95 / 100)];
  return s;
}

double since_us(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

Summary time_n(int n, const std::function<void()>& fn) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    fn();
    us.push_back(since_us(t0));
  }
  return summarize(std::move(us));
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_seccomp: %s\n", what.c_str());
  ::_exit(1);
}

// seccomp(2) load of a compiled program, timed inside a fresh child each time (a filter cannot
// be removed, and stacking hundreds would measure something else).
Summary time_loads(int n, const Program& program) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    int fds[2];
    if (::pipe(fds) != 0) die("pipe");
    pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      auto t0 = Clock::now();
      int rc = load(program);
      double t = since_us(t0);
      if (rc != 0) t = -1;
      (void)!::write(fds[1], &t, sizeof t);
      ::_exit(0);
    }
    ::close(fds[1]);
    double t = -1;
    (void)!::read(fds[0], &t, sizeof t);
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    if (t < 0) die("load failed in the child");
    us.push_back(t);
  }
  return summarize(std::move(us));
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(10, static_cast<int>(std::strtol(argv[1], nullptr, 10))) : 200;
  const Profile& profile = default_profile();
  const std::string json = to_oci_json(profile);

  auto first = Compiler().compile(profile);
  if (!first) die(first.error().message());
  const auto instructions = (*first)->filter.size();

  Summary compile = time_n(n, [&] {
    Compiler fresh;  // no cache: libseccomp builds the filter, as crun/runc do per start
    if (!fresh.compile(profile)) die("compile");
  });
  Summary parse_compile = time_n(n, [&] {
    Compiler fresh;
    auto p = parse_oci_profile(json);
    if (!p || !fresh.compile(*p)) die("parse + compile");
  });
  Compiler warm;
  if (!warm.compile(profile)) die("warm");
  Summary memory_hit = time_n(n * 10, [&] {
    if (!warm.compile(profile)) die("memory hit");
  });
  TempDir dir("svc-bench-seccomp-");
  if (!Compiler(dir.path()).compile(profile)) die("fill the disk cache");
  Summary disk_hit = time_n(n, [&] {
    Compiler restarted(dir.path());  // a restarted daemon: the program comes from disk
    if (!restarted.compile(profile)) die("disk hit");
  });
  Summary loads = time_loads(n, **first);

  std::printf(
      "Default profile: %zu rules, %zu BPF instructions (x86_64 + i386 + x32); "
      "%d iterations (%d for the memory hit).\n\n",
      profile.rules.size(), instructions, n, n * 10);
  std::printf("| step | median | p95 |\n| --- | ---: | ---: |\n");
  auto row = [](const char* name, Summary s) {
    std::printf("| %s | %.1f us | %.1f us |\n", name, s.median_us, s.p95_us);
  };
  row("compile with libseccomp (no cache; what crun/runc do per start)", compile);
  row("parse OCI JSON + compile (no cache)", parse_compile);
  row("compile() hit in the in-memory cache", memory_hit);
  row("compile() hit in the disk cache (new Compiler, as after a restart)", disk_hit);
  row("load(): seccomp(2) of the cached program, in a fresh child", loads);
  std::printf(
      "\nPer sandbox start svc pays memory hit + load = %.1f us median, against %.1f us "
      "for compile + load: %.0fx less.\n",
      memory_hit.median_us + loads.median_us, compile.median_us + loads.median_us,
      (compile.median_us + loads.median_us) / (memory_hit.median_us + loads.median_us));
  return 0;
}
