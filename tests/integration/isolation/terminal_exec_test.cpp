// Terminals, stdin, attach, exec and the init against the real kernel (root): a shell on a pty
// the shim keeps, typed into through attached clients across detaches and a new runtime; a
// process exec'd into a running sandbox in every one of its namespaces, its cgroup, with its
// credentials and seccomp filter; svc-init as PID 1 forwarding SIGTERM and reaping orphans.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "isolation/runtime.hpp"
#include "isolation/shim_cgroup.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sandbox_fixture.hpp"

using namespace svc;
using namespace svc::isolation;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Output {
  std::string text;  // stdout and stderr as they came
  std::string out, err;
  std::optional<ExitRecord> exit;
};

// Reads frames until `needle` is in the output (or, with an empty needle, the exit frame).
Output read_until(Attachment& a, const std::string& needle, std::chrono::milliseconds timeout = 10s,
                  Output sofar = {}) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (!needle.empty() && sofar.text.find(needle) != std::string::npos) return sofar;
    auto f = a.read(100ms);
    if (!f) {
      FAIL_CHECK("read: " << f.error().message() << "; output so far: " << sofar.text);
      return sofar;
    }
    if (!*f) continue;
    if ((*f)->kind == Attachment::Frame::Kind::kExit) {
      auto r = parse_exit_record((*f)->data);
      if (r) sofar.exit = *r;
      return sofar;
    }
    sofar.text += (*f)->data;
    ((*f)->kind == Attachment::Frame::Kind::kStderr ? sofar.err : sofar.out) += (*f)->data;
  }
  FAIL_CHECK("no \"" << needle << "\" within the timeout; output: " << sofar.text);
  return sofar;
}

std::string status_field(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  return "";
}

std::string ns_link(pid_t pid, const char* ns) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + ns, ec).string();
}

// Runs a command in the sandbox through an exec shim and returns its output and exit record.
Output exec_output(Runtime& rt, const std::string& id, std::vector<std::string> args,
                   ExecSpec spec = {}) {
  spec.args = std::move(args);
  ExecOptions o;
  o.start = false;  // released by the attach below: nothing it prints is missed
  auto e = rt.exec(id, spec, o);
  if (!e) {
    FAIL_CHECK("exec: " << e.error().message());
    return {};
  }
  AttachOptions ao;
  ao.exec_id = e->id;
  ao.start = true;
  auto a = rt.attach(id, ao);
  if (!a) {
    FAIL_CHECK("attach: " << a.error().message());
    return {};
  }
  Output out = read_until(**a, "", 20s);
  auto w = rt.wait_exec(id, e->id, 10s);
  if (w) out.exit = *w;
  (void)rt.remove_exec(id, e->id);
  return out;
}

}  // namespace

TEST_CASE("a terminal task: typed into, resized, its tty its own, its output in the log",
          "[terminal]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id("tty");
  SandboxSpec spec = fx.spec({"sh"});
  spec.terminal = true;
  spec.console_rows = 20;
  spec.console_cols = 70;
  REQUIRE(fx.runtime().create(id, spec));
  AttachOptions ao;
  ao.stdin = true;
  ao.start = true;
  auto a = fx.runtime().attach(id, ao);
  REQUIRE(a);
  CHECK((*a)->tty());
  REQUIRE((*a)->write_stdin("stty size; tty; echo sum-$((40+2))\n"));
  Output out = read_until(**a, "sum-42");
  CHECK(out.text.find("20 70") != std::string::npos);
  // Its own devpts: the first pty of the sandbox's instance.
  CHECK(out.text.find("/dev/pts/0") != std::string::npos);
  REQUIRE((*a)->resize(33, 101));
  // (Needles are computed by the shell: the terminal echoes what is typed.)
  REQUIRE((*a)->write_stdin("stty size; echo resized-$((1+1))\n"));
  out = read_until(**a, "resized-2", 10s, out);
  CHECK(out.text.find("33 101") != std::string::npos);
  // SIGWINCH reaches the foreground job when the size changes.
  REQUIRE((*a)->write_stdin(
      "sh -c 'trap \"echo got-winch-\\$((3*3)); exit\" WINCH; echo trapped-$((2+5)); "
      "while :; do usleep 10000; done'\n"));
  out = read_until(**a, "trapped-7", 10s, out);
  REQUIRE((*a)->resize(40, 100));
  out = read_until(**a, "got-winch-9", 10s, out);
  // ^C goes to the terminal's foreground process: the sleep dies, the shell lives on.
  std::string cgroup = fx.runtime().state(id)->cgroup;
  REQUIRE((*a)->write_stdin("sleep 30\n"));
  // Not just forked: exec'd as sleep (ash makes the child the terminal's foreground group before
  // its execve), so the ^C cannot reach the shell first.
  REQUIRE(test::wait_for(
      [&] {
        auto pids = fx.cgroups().pids(cgroup);
        if (!pids) return false;
        for (pid_t p : *pids) {
          std::ifstream comm("/proc/" + std::to_string(p) + "/comm");
          std::string name;
          if (std::getline(comm, name) && name == "sleep") return true;
        }
        return false;
      },
      10s));
  REQUIRE((*a)->write_stdin("\x03"));
  CHECK(test::wait_for([&] { return fx.cgroups().pids(cgroup)->size() == 1; }, 10s));
  REQUIRE((*a)->write_stdin("echo alive-$((2*3))\n"));
  out = read_until(**a, "alive-6", 10s, out);
  REQUIRE((*a)->write_stdin("exit 5\n"));
  out = read_until(**a, "", 10s, out);
  REQUIRE(out.exit);
  CHECK(out.exit->exit_code == 5);
  // As Docker does for -t: the terminal's output is the task's log (stdout).
  CHECK(fx.log_text(id).find("sum-42") != std::string::npos);
  REQUIRE(fx.runtime().remove(id));
}

TEST_CASE("a terminal task survives detaches and a new runtime, and can be attached again",
          "[terminal]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id("tty");
  SandboxSpec spec = fx.spec({"sh"});
  spec.terminal = true;
  CreateOptions co;
  co.start = true;
  REQUIRE(fx.runtime().create(id, spec, co));
  {
    AttachOptions ao;
    ao.stdin = true;
    auto a = fx.runtime().attach(id, ao);
    REQUIRE(a);
    REQUIRE((*a)->write_stdin("echo first-$((1+1))\n"));
    read_until(**a, "first-2");
  }  // detached: the connection closes, the shell keeps its terminal
  auto restarted = fx.make_runtime();  // what svcd builds after a restart
  AttachOptions ao;
  ao.stdin = true;
  auto a = restarted->attach(id, ao);
  REQUIRE(a);
  REQUIRE((*a)->write_stdin("echo second-$((2+2)); exit 9\n"));
  Output out = read_until(**a, "");
  CHECK(out.text.find("second-4") != std::string::npos);
  REQUIRE(out.exit);
  CHECK(out.exit->exit_code == 9);
  REQUIRE(restarted->remove(id));
}

TEST_CASE("an open stdin: piped in through an attached client, EOF closes it", "[stdin]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id("in");
  SandboxSpec spec = fx.spec({"sh", "-c", "cat; echo done >&2"});
  spec.open_stdin = true;
  REQUIRE(fx.runtime().create(id, spec));
  // Without stdin nothing may be written; a task without an open stdin refuses stdin clients.
  AttachOptions ao;
  ao.stdin = true;
  ao.start = true;
  auto a = fx.runtime().attach(id, ao);
  REQUIRE(a);
  CHECK_FALSE((*a)->tty());
  std::string big(200 * 1024, 'x');  // more than any pipe holds: flow control both ways
  REQUIRE((*a)->write_stdin("hello\n"));
  REQUIRE((*a)->write_stdin(big));
  REQUIRE((*a)->close_stdin());
  Output out = read_until(**a, "");
  REQUIRE(out.exit);
  CHECK(out.exit->exit_code == 0);
  CHECK(out.out == "hello\n" + big);
  CHECK(out.err == "done\n");

  std::string plain = fx.next_id("in");
  CreateOptions co;
  co.start = true;
  REQUIRE(fx.runtime().create(plain, fx.spec({"sleep", "30"}), co));
  auto refused = fx.runtime().attach(plain, ao);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("without an open stdin") != std::string::npos);
  AttachOptions watch_only;
  CHECK(fx.runtime().attach(plain, watch_only));
  REQUIRE(fx.runtime().remove(plain, true));
  REQUIRE(fx.runtime().remove(id));
}

TEST_CASE("exec joins every namespace, the cgroup, the credentials and the seccomp filter",
          "[exec]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id("ex");
  CreateOptions co;
  co.start = true;
  auto info = fx.runtime().create(id, fx.spec({"sleep", "60"}), co);
  REQUIRE(info);
  // Inside: the exec'd shell compares itself with the task (PID 1 of the sandbox).
  std::string script =
      "for n in user mnt uts ipc net cgroup pid; do "
      "  [ \"$(readlink /proc/self/ns/$n)\" = \"$(readlink /proc/1/ns/$n)\" ] || echo DIFF-ns-$n; "
      "done; "
      "[ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] || echo DIFF-cgroup; "
      "for f in Uid Gid Groups CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp "
      "Seccomp_filters; do "
      "  [ \"$(grep ^$f: /proc/self/status)\" = \"$(grep ^$f: /proc/1/status)\" ] || echo DIFF-$f; "
      "done; echo pid=$$; hostname; echo checked";
  Output out = exec_output(fx.runtime(), id, {"sh", "-c", script});
  INFO(out.text);
  CHECK(out.text.find("DIFF") == std::string::npos);
  CHECK(out.text.find("checked") != std::string::npos);
  CHECK(out.text.find("pid=1\n") == std::string::npos);  // in the pid namespace, not its init
  REQUIRE(out.exit);
  CHECK(out.exit->exit_code == 0);

  // From the host: the exec'd process has the task's namespaces and host ids, and is in its
  // cgroup (seen while it runs).
  ExecSpec s;
  s.args = {"sleep", "30"};
  auto e = fx.runtime().exec(id, s);
  REQUIRE(e);
  // Once it runs sleep (its seccomp filter is loaded just before its execve).
  REQUIRE(test::wait_for([&] { return status_field(e->pid, "Name") == "\tsleep"; }, 10s));
  for (const char* ns : {"user", "mnt", "uts", "ipc", "net", "cgroup", "pid_for_children"})
    CHECK(ns_link(e->pid, ns) == ns_link(info->pid, ns));
  CHECK(status_field(e->pid, "Uid") == status_field(info->pid, "Uid"));
  CHECK(status_field(e->pid, "CapEff") == status_field(info->pid, "CapEff"));
  CHECK(status_field(e->pid, "NoNewPrivs") == status_field(info->pid, "NoNewPrivs"));
  CHECK(status_field(e->pid, "Seccomp") == status_field(info->pid, "Seccomp"));
  auto pids = fx.cgroups().pids(info->cgroup);
  REQUIRE(pids);
  CHECK(std::find(pids->begin(), pids->end(), e->pid) != pids->end());
  // Its exit code, and signals to it (not to the task).
  REQUIRE(fx.runtime().kill_exec(id, e->id, SIGTERM));
  auto killed = fx.runtime().wait_exec(id, e->id, 10s);
  REQUIRE(killed);
  CHECK(killed->signal == SIGTERM);
  CHECK(fx.runtime().state(id)->status == SandboxStatus::kRunning);

  Output code = exec_output(fx.runtime(), id, {"sh", "-c", "echo to-stderr >&2; exit 7"});
  REQUIRE(code.exit);
  CHECK(code.exit->exit_code == 7);
  CHECK(code.text == "to-stderr\n");
  Output missing = exec_output(fx.runtime(), id, {"/no/such/program"});
  REQUIRE(missing.exit);
  CHECK(missing.exit->exit_code == 127);
  CHECK(missing.exit->error.find("/no/such/program") != std::string::npos);
  // The user of the exec: by name from the image, with its own ids.
  ExecSpec as_nobody;
  as_nobody.user = "nobody";
  Output nobody = exec_output(fx.runtime(), id, {"id", "-u"}, as_nobody);
  CHECK(nobody.text == "65534\n");
  REQUIRE(fx.runtime().remove(id, true));
}

TEST_CASE("exec with a terminal, and exec refused when the sandbox does not run", "[exec]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id("ex");
  CreateOptions co;
  co.start = true;
  REQUIRE(fx.runtime().create(id, fx.spec({"sleep", "60"}), co));
  ExecSpec s;
  s.args = {"sh"};
  s.terminal = true;
  ExecOptions o;
  o.start = false;
  auto e = fx.runtime().exec(id, s, o);
  REQUIRE(e);
  AttachOptions ao;
  ao.exec_id = e->id;
  ao.stdin = true;
  ao.start = true;
  auto a = fx.runtime().attach(id, ao);
  REQUIRE(a);
  CHECK((*a)->tty());
  REQUIRE((*a)->write_stdin("tty; [ -t 0 ] && echo is-a-tty; exit 3\n"));
  Output out = read_until(**a, "");
  CHECK(out.text.find("/dev/pts/") != std::string::npos);
  CHECK(out.text.find("is-a-tty") != std::string::npos);
  REQUIRE(out.exit);
  CHECK(out.exit->exit_code == 3);

  std::string created = fx.next_id("ex");
  REQUIRE(fx.runtime().create(created, fx.spec({"true"})));
  ExecSpec t;
  t.args = {"true"};
  auto refused = fx.runtime().exec(created, t);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Code::kFailedPrecondition);
  ExecSpec empty;
  auto bad = fx.runtime().exec(id, empty);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::kInvalidArgument);
  REQUIRE(fx.runtime().remove(created, true));
  REQUIRE(fx.runtime().remove(id, true));
}

TEST_CASE("exec needs no pids of the sandbox beyond its own process", "[exec]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id("ex");
  SandboxSpec spec = fx.spec({"sleep", "60"});
  spec.resources.pids = 2;  // the task and one more
  CreateOptions co;
  co.start = true;
  REQUIRE(fx.runtime().create(id, spec, co));
  Output ok = exec_output(fx.runtime(), id, {"echo", "fits"});
  CHECK(ok.text == "fits\n");
  // A third process does not fit: the limit holds for exec'd processes too.
  Output over = exec_output(fx.runtime(), id, {"sh", "-c", "sleep 0; echo after"});
  CHECK(over.text.find("after") == std::string::npos);
  REQUIRE(fx.runtime().remove(id, true));
}

TEST_CASE("svc-init as PID 1 forwards SIGTERM and reaps orphans", "[init]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  if (::access(SVC_INIT, X_OK) != 0) FAIL("svc-init is not built: " SVC_INIT);
  auto with_init = [&](std::vector<std::string> args) {
    SandboxSpec s = fx.spec({});
    MountSpec m;
    m.type = MountSpec::Type::kBind;
    m.source = SVC_INIT;
    m.target = "/dev/init";
    m.readonly = true;
    s.mounts.push_back(m);
    s.process.args = {"/dev/init", "--"};
    s.process.args.insert(s.process.args.end(), args.begin(), args.end());
    return s;
  };
  CreateOptions co;
  co.start = true;
  // sleep as PID 1 would ignore SIGTERM and wait out the grace period (stop test in
  // lifecycle_test.cpp); under svc-init it ends on the signal: 128+15.
  std::string id = fx.next_id("init");
  auto created = fx.runtime().create(id, with_init({"sleep", "1000"}), co);
  REQUIRE(created);
  // Once svc-init has started its command (it blocks the signals it forwards before that).
  REQUIRE(test::wait_for([&] { return fx.cgroups().pids(created->cgroup)->size() == 2; }, 10s));
  REQUIRE(fx.runtime().stop(id, SIGTERM, 60s));
  auto exit = fx.runtime().wait(id, 30s);
  REQUIRE(exit);
  CHECK(exit->exit_code == 143);
  CHECK(exit->signal == 0);

  // An orphan is reparented to PID 1: svc-init reaps it, a plain `sleep` as PID 1 would not.
  // The orphan ends once the task has become `sleep`, after writing its pid down.
  const std::string orphan =
      "sh -c '(until pidof sleep >/dev/null; do usleep 1000; done; "
      "sh -c \"echo \\$PPID > /tmp/orphan-pid\"; true) &'; exec sleep 1000";
  auto orphan_state = [&](const std::string& sid) {
    Output o = exec_output(
        fx.runtime(), sid,
        {"sh", "-c",
         "test -e /tmp/orphan-pid || { echo not-yet; exit; }; p=$(cat /tmp/orphan-pid); "
         "if [ -e /proc/$p ]; then grep -q '^State:.Z' /proc/$p/status && echo zombie || "
         "echo running; else echo gone; fi"});
    return o.out;
  };
  std::string reaped = fx.next_id("init");
  REQUIRE(fx.runtime().create(reaped, with_init({"sh", "-c", orphan}), co));
  CHECK(test::wait_for([&] { return orphan_state(reaped) == "gone\n"; }, 20s));
  std::string plain = fx.next_id("init");
  REQUIRE(fx.runtime().create(plain, fx.spec({"sh", "-c", orphan}), co));
  CHECK(test::wait_for([&] { return orphan_state(plain) == "zombie\n"; }, 20s));
  REQUIRE(fx.runtime().remove(reaped, true));
  REQUIRE(fx.runtime().remove(plain, true));
  REQUIRE(fx.runtime().remove(id, true));
}
