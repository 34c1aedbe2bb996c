// Terminals, stdin, exec, attach and --init as a user drives them: svctl on a real pty (the
// test types, reads the screen, resizes), a real svcd, real sandboxes, images from a real
// registry. Root only; a test that cannot run says SVC_SKIPPED (ctest reports it skipped).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/pty_session.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Shared {
  RegistryFixture& registry = busybox_registry().registry;
  std::string image = busybox_registry().image;
  std::string probe_image;  // busybox and /probe (sandbox-probe, static)
  Shared() {
    ImageBuilder with_probe = busybox_image();
    with_probe.layer(LayerBuilder().file_from("probe", SVC_PROBE, 0755));
    probe_image = registry.push(with_probe, "e2e/probe:1");
  }
};

Shared& shared() {
  static Shared s;
  return s;
}

std::unique_ptr<DaemonFixture> start_daemon() {
  DaemonFixture::Options o;
  o.extra_config = insecure_registry_toml(shared().registry);
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  return d;
}

json task_json(const DaemonFixture& d, const std::string& task) {
  auto r = d.svctl({"inspect", task, "-o", "json"});
  if (r.exit_code != 0) return json();
  return json::parse(r.out);
}

std::string state_of(const DaemonFixture& d, const std::string& task) {
  json j = task_json(d, task);
  return j.is_null() ? "" : j.value("state", "");
}

// svctl on a pty of its own, against d.
std::unique_ptr<PtySession> svctl_on_pty(const DaemonFixture& d,
                                         const std::vector<std::string>& args) {
  std::vector<std::string> argv = {svctl_path(), "--host", d.host()};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<PtySession>(argv, 24, 80);
}

#define REQUIRE_ROOT() \
  if (!is_root()) SVC_SKIP("needs root (real sandboxes and cgroups)")

}  // namespace

TEST_CASE("run -it: typing, the task's own tty, resize, Ctrl-C and the exit code", "[e2e][tty]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  auto s = svctl_on_pty(d, {"run", "-it", "--name", "shell", shared().image, "sh"});
  // What the shell prints first is not missed: the task waited for svctl to attach.
  REQUIRE(s->expect("# "));
  s->type("echo $((6*7))-$(tty)\r");
  REQUIRE(s->expect("42-/dev/pts/0"));
  // The window size comes from svctl's terminal, and follows it (SIGWINCH).
  s->type("stty size\r");
  REQUIRE(s->expect("24 80"));
  s->resize(33, 101);
  REQUIRE(s->expect("# "));
  s->type("stty size\r");
  CHECK(s->expect("33 101"));
  // Ctrl-C reaches the task's foreground process, not svctl: the shell lives on.
  s->type("sleep 1000\r");
  // The echo of the line comes before the shell ran it: wait for sleep itself (ash makes it the
  // terminal's foreground group before its execve).
  REQUIRE(wait_for(
      [&] {
        return d.svctl({"exec", "shell", "pidof", "sleep"}).exit_code == 0;
      },
      30s));
  s->type("\x03");
  s->type("echo after-$?\r");
  CHECK(s->expect("after-130"));
  s->type("exit 3\r");
  auto rc = s->wait();
  REQUIRE(rc);
  CHECK(*rc == 3);
  json t = task_json(d, "shell");
  CHECK(t.value("exitCode", -1) == 3);
  CHECK(t["spec"].value("tty", false));
  // The terminal's output is in the task's log too, as for docker -t.
  auto logs = d.svctl({"logs", "shell"});
  CHECK(logs.out.find("42-/dev/pts/0") != std::string::npos);
}

TEST_CASE("run -i: piped stdin reaches the task, EOF ends it, its exit code returns",
          "[e2e][tty]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  auto r = run({svctl_path(), "--host", d.host(), "run", "-i", shared().image, "cat"}, 60s, {},
               "hi\nthere\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hi\nthere\n");
  auto counted = run({svctl_path(), "--host", d.host(), "run", "-i", shared().image, "--", "sh",
                      "-c", "wc -l; echo err >&2; exit 4"},
                     60s, {}, "a\nb\nc\n");
  CHECK(counted.exit_code == 4);
  CHECK(counted.out.find('3') != std::string::npos);
  CHECK(counted.err.find("err") != std::string::npos);
  // Without -i, stdin is not the task's: it reads EOF at once.
  auto plain = run(
      {svctl_path(), "--host", d.host(), "run", shared().image, "--", "sh", "-c", "cat; echo done"},
      60s, {}, "dropped\n");
  CHECK(plain.exit_code == 0);
  CHECK(plain.out == "done\n");
}

TEST_CASE("exec: exit codes, and the same namespaces, cgroup, ids, capabilities and seccomp",
          "[e2e][exec]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  auto started = d.svctl({"run", "-d", "--name", "box", shared().image, "sleep", "1000"});
  REQUIRE(started.exit_code == 0);
  REQUIRE(wait_for([&] { return state_of(d, "box") == "RUNNING"; }, 30s));
  CHECK(d.svctl({"exec", "box", "true"}).exit_code == 0);
  CHECK(d.svctl({"exec", "box", "sh", "-c", "exit 5"}).exit_code == 5);
  auto missing = d.svctl({"exec", "box", "no-such-program"});
  CHECK(missing.exit_code == 127);
  // Compared from inside: the exec'd process against the task's first process.
  const std::string compare =
      "for n in user mnt pid net uts ipc cgroup; do "
      "[ \"$(readlink /proc/self/ns/$n)\" = \"$(readlink /proc/1/ns/$n)\" ] || echo ns-differs-$n; "
      "done; "
      "[ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] || echo cgroup-differs; "
      "[ \"$(cat /proc/self/uid_map)\" = \"$(cat /proc/1/uid_map)\" ] || echo uidmap-differs; "
      "for f in Uid Gid CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp Seccomp_filters; do "
      "[ \"$(grep \"^$f:\" /proc/self/status)\" = \"$(grep \"^$f:\" /proc/1/status)\" ] || "
      "echo status-differs-$f; done; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; "
      "echo compared";
  auto same = d.svctl({"exec", "box", "sh", "-c", compare});
  CHECK(same.exit_code == 0);
  CHECK(same.out.find("differs") == std::string::npos);
  CHECK(same.out.find("NoNewPrivs:\t1") != std::string::npos);
  CHECK(same.out.find("Seccomp:\t2") != std::string::npos);
  CHECK(same.out.find("compared") != std::string::npos);
  INFO(same.out);
  // Env, workdir and user are the exec's when given.
  auto own = d.svctl({"exec", "-e", "GREETING=hi", "-w", "/tmp", "-u", "1000:1000", "box", "sh",
                      "-c", "echo $GREETING $(pwd) $(id -u):$(id -g)"});
  CHECK(own.out == "hi /tmp 1000:1000\n");
  // Piped input with -i.
  auto piped = run({svctl_path(), "--host", d.host(), "exec", "-i", "box", "cat"}, 30s, {},
                   "through exec\n");
  CHECK(piped.out == "through exec\n");
  // Bad requests change nothing and say what to do.
  auto none = d.svctl({"exec", "nope", "true"});
  CHECK(none.exit_code == 5);
  d.svctl({"stop", "box"});
  REQUIRE(wait_for([&] { return state_of(d, "box") == "STOPPED"; }, 30s));
  auto stopped = d.svctl({"exec", "box", "true"});
  CHECK(stopped.exit_code == 1);
  CHECK(stopped.err.find("not RUNNING") != std::string::npos);
}

TEST_CASE("exec -it: a terminal of its own in the task", "[e2e][exec]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.svctl({"run", "-d", "--name", "box", shared().image, "sleep", "1000"}).exit_code == 0);
  REQUIRE(wait_for([&] { return state_of(d, "box") == "RUNNING"; }, 30s));
  auto s = svctl_on_pty(d, {"exec", "-it", "box", "sh"});
  REQUIRE(s->expect("# "));
  s->type("tty; stty size\r");
  CHECK(s->expect("/dev/pts/"));
  CHECK(s->expect("24 80"));
  s->type("exit 9\r");
  auto rc = s->wait();
  REQUIRE(rc);
  CHECK(*rc == 9);
}

TEST_CASE("attach after detach, and after svcd was killed with -9", "[e2e][tty]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  {
    auto s = svctl_on_pty(d, {"run", "-it", "--name", "term", shared().image, "sh"});
    REQUIRE(s->expect("# "));
    s->type("v=kept\r");
    REQUIRE(s->expect("# "));
    s->type("\x10\x11");  // Ctrl-P Ctrl-Q
    auto rc = s->wait();
    REQUIRE(rc);
    CHECK(*rc == 0);
    CHECK(s->expect("detached"));
  }
  CHECK(state_of(d, "term") == "RUNNING");
  {
    auto s = svctl_on_pty(d, {"attach", "term"});
    s->type("echo again-$v\r");
    CHECK(s->expect("again-kept"));
    s->type("\x10\x11");
    REQUIRE(s->wait());
  }
  // The shim holds the terminal: it outlives svcd.
  d.kill9();
  d.start();
  REQUIRE(wait_for([&] { return state_of(d, "term") == "RUNNING"; }, 30s));
  {
    auto s = svctl_on_pty(d, {"attach", "term"});
    s->type("echo still-$v\r");
    CHECK(s->expect("still-kept"));
    s->type("exit 6\r");
    auto rc = s->wait();
    REQUIRE(rc);
    CHECK(*rc == 6);
  }
  REQUIRE(wait_for([&] { return state_of(d, "term") == "STOPPED"; }, 30s));
  CHECK(task_json(d, "term").value("exitCode", -1) == 6);
  // A stopped task cannot be attached to; the error says where its output is.
  auto late = d.svctl({"attach", "--no-stdin", "term"});
  CHECK(late.exit_code == 1);
  CHECK(late.err.find("svctl logs term") != std::string::npos);
}

TEST_CASE("run --init: stop ends a sleep on SIGTERM (143) instead of SIGKILL after the grace",
          "[e2e][init]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.svctl({"run", "-d", "--init", "--stop-timeout", "60s", "--name", "with-init",
                   shared().image, "sleep", "1000"})
              .exit_code == 0);
  REQUIRE(d.svctl({"run", "-d", "--stop-timeout", "1s", "--name", "plain", shared().image, "sleep",
                   "1000"})
              .exit_code == 0);
  REQUIRE(wait_for([&] { return state_of(d, "with-init") == "RUNNING"; }, 30s));
  REQUIRE(wait_for([&] { return state_of(d, "plain") == "RUNNING"; }, 30s));
  // svc-init is PID 1 and sleep its child (once it has started it).
  REQUIRE(wait_for(
      [&] {
        return d.svctl({"exec", "with-init", "pidof", "sleep"}).out != "1\n";
      },
      10s));
  CHECK(d.svctl({"exec", "with-init", "cat", "/proc/1/cmdline"}).out.find("/dev/init") == 0);
  REQUIRE(d.svctl({"stop", "with-init"}).exit_code == 0);
  REQUIRE(d.svctl({"stop", "plain"}).exit_code == 0);
  // 143: SIGTERM ended it with 59 s of grace left; a plain sleep as PID 1 ignores SIGTERM and
  // is killed when its (1 s) grace is over: 137.
  auto w = d.svctl({"wait", "with-init"}, 30s);
  CHECK(w.exit_code == 143);
  auto p = d.svctl({"wait", "plain"}, 30s);
  CHECK(p.exit_code == 137);
}

TEST_CASE("a task with a terminal cannot type into svctl's terminal (TIOCSTI)", "[e2e][tty]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  // svctl under a shell on the test's terminal: after svctl, the shell reads a line from that
  // terminal. Bytes pushed into it by the task would come first.
  std::string cmd = fmt::format(
      "{} --host {} run -it {} /probe tiocsti-stdin; echo svctl-exit-$?; read line; "
      "echo \"read=[$line]\"",
      svctl_path(), d.host(), shared().probe_image);
  PtySession s({"/bin/sh", "-c", cmd}, 24, 80);
  // The task's own terminal refuses it too (the seccomp filter: Linux may allow TIOCSTI).
  REQUIRE(s.expect("tiocsti_stdin="));
  CHECK(s.expect("EPERM"));
  REQUIRE(s.expect("svctl-exit-0"));
  s.type("clean\r");
  CHECK(s.expect("read=[clean]"));
  CHECK(s.transcript().find("INJECTED") == std::string::npos);
  REQUIRE(s.wait());
}
