// Tasks as a user drives them: a real registry (docker-registry, images pushed with skopeo),
// a real svcd, the real svctl, real sandboxes. Root only.
#include <signal.h>
#include <unistd.h>

#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/registry_fixture.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// One registry with the busybox image for the whole binary: starting it and pushing cost ~1 s.
std::string config_for(const std::string& extra = "") {
  return insecure_registry_toml(busybox_registry().registry) + extra;
}

// A real svcd that may pull from the shared registry; extra: more TOML for its config.
std::unique_ptr<DaemonFixture> start_daemon(const std::string& extra = "") {
  DaemonFixture::Options o;
  o.extra_config = config_for(extra);
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

bool wait_state(const DaemonFixture& d, const std::string& task, const std::string& state,
                std::chrono::milliseconds timeout = 30s) {
  return wait_for([&] { return state_of(d, task) == state; }, timeout);
}

// Waits until a task has printed `line` (as svctl logs shows it): the task says it is ready
// (its trap installed) instead of the test guessing how long that takes.
bool wait_printed(const DaemonFixture& d, const std::string& task, const std::string& line,
                  std::chrono::milliseconds timeout = 30s) {
  return wait_for(
      [&] {
        return d.svctl({"logs", task}).out.find(line) != std::string::npos;
      },
      timeout);
}

#define REQUIRE_ROOT() \
  if (!is_root()) SVC_SKIP("needs root (real sandboxes and cgroups)")

}  // namespace

TEST_CASE("run: exit codes, stdout and stderr in order, logs, --rm", "[e2e][tasks]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;

  // The first run pulls the image (with progress on stderr), runs and exits with the code.
  auto r = d.svctl({"run", "--name", "three", img, "--", "sh", "-c",
                    "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; exit 3"});
  INFO(r.err << d.log());
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out1\nout2\n");
  CHECK(r.err.find("err1") != std::string::npos);

  auto zero = d.svctl({"run", img, "--", "true"});
  CHECK(zero.exit_code == 0);
  auto noexec = d.svctl({"run", "--name", "noexec", img, "--", "/nonexistent"});
  CHECK(noexec.exit_code == 127);
  CHECK(noexec.err.find("StartFailed") != std::string::npos);
  CHECK(noexec.err.find("/nonexistent") != std::string::npos);
  // Detached too: a program that cannot be exec'd is an error, not a task "started" (it never
  // shows RUNNING), as `docker run -d` says.
  auto detached = d.svctl({"run", "-d", "--name", "noexec-d", img, "--", "/nonexistent"});
  CHECK(detached.exit_code == 127);
  CHECK(detached.err.find("StartFailed") != std::string::npos);
  CHECK(detached.err.find("/nonexistent") != std::string::npos);
  CHECK(detached.out.empty());  // no id of a task that never ran; the error names it
  CHECK(d.svctl({"logs", "noexec-d"}).exit_code == 0);

  // Logs keep both streams, tagged and in the order they were written.
  auto logs = d.svctl({"logs", "three", "-o", "json"});
  REQUIRE(logs.exit_code == 0);
  std::vector<std::pair<std::string, std::string>> lines;
  std::istringstream in(logs.out);
  std::string line;
  while (std::getline(in, line)) {
    json e = json::parse(line);
    lines.emplace_back(e["stream"], e["text"]);
  }
  CHECK(lines == std::vector<std::pair<std::string, std::string>>{
                     {"STDOUT", "out1"}, {"STDERR", "err1"}, {"STDOUT", "out2"}});
  auto tail = d.svctl({"logs", "--tail", "1", "three"});
  CHECK(tail.out == "out2\n");

  json t = task_json(d, "three");
  CHECK(t["state"] == "STOPPED");
  CHECK(t["exitCode"] == 3);
  CHECK(t["stopReason"] == "Exited");
  CHECK(t.contains("runningAt"));
  CHECK(t.contains("stoppedAt"));

  // --rm: gone once its exit code was read.
  auto rm = d.svctl({"run", "--rm", "--name", "ephemeral", img, "--", "sh", "-c", "exit 4"});
  CHECK(rm.exit_code == 4);
  CHECK(wait_for([&] { return d.svctl({"inspect", "ephemeral"}).exit_code == 5; }, 10s));

  // Env values are used but never shown back.
  auto env = d.svctl({"run", "--name", "secret", "-e", "TOKEN=s3cr3t-value", img, "--", "sh", "-c",
                      "test \"${#TOKEN}\" -eq 12 && test \"${TOKEN#s3cr3t}\" = -value"});
  CHECK(env.exit_code == 0);
  auto ps = d.svctl({"ps", "-a", "-o", "json"});
  CHECK(ps.out.find("s3cr3t-value") == std::string::npos);
  auto inspect = d.svctl({"inspect", "secret", "-o", "json"});
  CHECK(inspect.out.find("s3cr3t-value") == std::string::npos);
  CHECK(json::parse(inspect.out)["spec"]["env"].contains("TOKEN"));
  CHECK(d.log().find("s3cr3t-value") == std::string::npos);
}

TEST_CASE("the image's entrypoint, cmd, env, workdir and user are honoured and overridable",
          "[e2e][tasks]") {
  REQUIRE_ROOT();
  ImageBuilder image = busybox_image();
  image.config().entrypoint = {"/bin/sh", "-c"};
  image.config().cmd = {"echo \"$GREETING from $(pwd) as $(id -u):$(id -g)\""};
  image.config().env = {"PATH=/bin", "GREETING=hello"};
  image.config().workdir = "/srv";
  image.config().user = "nobody";
  std::string ref = busybox_registry().registry.push(image, "e2e/configured:1");
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  auto plain = d.svctl({"run", "--rm", ref});
  INFO(plain.err);
  CHECK(plain.exit_code == 0);
  CHECK(plain.out == "hello from /srv as 65534:65534\n");
  // As docker run: args replace Cmd, flags replace the rest, --entrypoint replaces Entrypoint.
  auto custom = d.svctl({"run", "--rm", "-e", "GREETING=hi", "--workdir", "/tmp", "--user", "0:0",
                         ref, "--", "echo \"$GREETING in $(pwd) as $(id -u)\""});
  CHECK(custom.exit_code == 0);
  CHECK(custom.out == "hi in /tmp as 0\n");
  auto entry = d.svctl({"run", "--rm", "--entrypoint", "/bin/echo", ref, "--", "plain", "args"});
  CHECK(entry.exit_code == 0);
  CHECK(entry.out == "plain args\n");
  auto bad_user = d.svctl({"run", "--rm", "--user", "nosuchuser", ref});
  CHECK(bad_user.exit_code == 125);
  CHECK(bad_user.err.find("nosuchuser") != std::string::npos);
}

TEST_CASE("network: private has only loopback up, none has nothing", "[e2e][tasks]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;
  auto priv = d.svctl({"run", "--rm", img, "--", "sh", "-c", "ip -o addr; ls /sys/class/net"});
  INFO(priv.err);
  REQUIRE(priv.exit_code == 0);
  CHECK(priv.out.find("inet 127.0.0.1/8") != std::string::npos);
  CHECK(priv.out.find("eth") == std::string::npos);  // no way out of the sandbox
  auto none = d.svctl({"run", "--rm", "--network", "none", img, "--", "sh", "-c",
                       "ip -o addr; cat /sys/class/net/lo/operstate"});
  REQUIRE(none.exit_code == 0);
  CHECK(none.out.find("127.0.0.1") == std::string::npos);  // not even loopback is up
  CHECK(none.out.find("down") != std::string::npos);
  // The host's loopback is not the task's: the registry listening on the host's 127.0.0.1 is
  // out of reach (while the host itself reaches it, as the pull just did).
  std::string probe = fmt::format("nc -w 1 127.0.0.1 {} </dev/null", busybox_registry().registry.port());
  CHECK(run({"sh", "-c", "/bin/busybox " + probe}).exit_code == 0);
  auto reach = d.svctl({"run", "--rm", img, "--", "sh", "-c", probe});
  CHECK(reach.exit_code == 1);
}

TEST_CASE("Ctrl-C on an attached run stops the task - a second one detaches", "[e2e][tasks]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;
  REQUIRE(d.svctl({"pull", img}).exit_code == 0);
  {
    Background attached(
        {svctl_path(), "--host", d.host(), "run", "--name", "ctrlc", img, "--", "sh", "-c",
         "trap 'exit 5' TERM; echo trap-set; while true; do sleep 0.1; done"},
        (d.dir() / "ctrlc.log").string());
    // The attached svctl prints the task's output: once the line is there, so is the trap.
    REQUIRE(wait_for(
        [&] {
          return read_file(d.dir() / "ctrlc.log").value_or("").find("trap-set") !=
                 std::string::npos;
        },
        30s));
    ::kill(attached.pid(), SIGINT);
    auto code = attached.stop(0, 20s);  // signal 0: only wait for it to end
    REQUIRE(code.has_value());
    CHECK(*code == 5);  // svctl exits with the task's code
    CHECK(task_json(d, "ctrlc")["stopReason"] == "StoppedByUser");
  }
  {
    Background attached(
        {svctl_path(), "--host", d.host(), "run", "--name", "detach", "--stop-timeout", "2s", img,
         "--", "sh", "-c", "trap '' TERM; echo trap-set; while true; do sleep 0.1; done"},
        (d.dir() / "detach.log").string());
    REQUIRE(wait_for(
        [&] {
          return read_file(d.dir() / "detach.log").value_or("").find("trap-set") !=
                 std::string::npos;
        },
        30s));
    ::kill(attached.pid(), SIGINT);
    REQUIRE(wait_state(d, "detach", "STOPPING", 10s));
    ::kill(attached.pid(), SIGINT);
    auto code = attached.stop(0, 10s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);  // detached; the task goes on stopping by itself
    CHECK(read_file(d.dir() / "detach.log").value_or("").find("detached") != std::string::npos);
    CHECK(d.svctl({"wait", "detach"}).exit_code == 137);  // SIGKILL after the 2 s grace
  }
}

TEST_CASE("stop: the stop signal - SIGKILL after the grace period", "[e2e][tasks]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;

  // A task that handles SIGTERM exits with its own code.
  REQUIRE(d.svctl({"run", "-d", "--name", "polite", img, "--", "sh", "-c",
                   "trap 'echo bye; exit 7' TERM; echo trap-set; while true; do sleep 0.1; done"})
              .exit_code == 0);
  REQUIRE(wait_printed(d, "polite", "trap-set"));
  // As docker stop: svctl returns once the task has stopped, so rm right after it works.
  auto stopped = d.svctl({"stop", "-t", "10s", "polite"});
  INFO(stopped.err);
  REQUIRE(stopped.exit_code == 0);
  CHECK(stopped.out == "polite\n");
  CHECK(state_of(d, "polite") == "STOPPED");
  auto w = d.svctl({"wait", "polite"});
  CHECK(w.exit_code == 7);
  json p = task_json(d, "polite");
  CHECK(p["stopReason"] == "StoppedByUser");
  CHECK(d.svctl({"logs", "polite"}).out.find("bye") != std::string::npos);
  CHECK(d.svctl({"rm", "polite"}).exit_code == 0);
  CHECK(d.svctl({"inspect", "polite"}).exit_code == 5);

  // A task that ignores it is killed after the grace period.
  REQUIRE(d.svctl({"run", "-d", "--name", "stubborn", img, "--", "sh", "-c",
                   "trap '' TERM; echo trap-set; while true; do sleep 0.1; done"})
              .exit_code == 0);
  REQUIRE(wait_printed(d, "stubborn", "trap-set"));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(d.svctl({"stop", "-t", "1s", "stubborn"}).exit_code == 0);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(state_of(d, "stubborn") == "STOPPED");
  auto k = d.svctl({"wait", "stubborn"});
  CHECK(k.exit_code == 137);
  CHECK(task_json(d, "stubborn")["signal"] == SIGKILL);
  CHECK(took >= 900ms);  // not before the grace period (a behaviour, not a speed)
  CHECK(d.svctl({"rm", "stubborn"}).exit_code == 0);

  // --no-wait returns once the signal is sent: a task that ignores it is still stopping.
  REQUIRE(d.svctl({"run", "-d", "--name", "later", img, "--", "sh", "-c",
                   "trap '' TERM; echo trap-set; while true; do sleep 0.1; done"})
              .exit_code == 0);
  REQUIRE(wait_printed(d, "later", "trap-set"));
  auto nowait = d.svctl({"stop", "--no-wait", "-t", "5m", "later"});
  CHECK(nowait.exit_code == 0);
  CHECK(state_of(d, "later") == "STOPPING");
  CHECK(d.svctl({"stop", "-t", "0s", "later"}).exit_code == 0);
  CHECK(state_of(d, "later") == "STOPPED");

  // A --rm task is gone once stopped; stop still succeeds.
  REQUIRE(d.svctl({"run", "-d", "--rm", "--name", "gone", img, "--", "sleep", "300"}).exit_code ==
          0);
  REQUIRE(wait_state(d, "gone", "RUNNING"));
  auto gone = d.svctl({"stop", "-t", "0s", "gone"});
  INFO(gone.err);
  CHECK(gone.exit_code == 0);
  CHECK(gone.out == "gone\n");

  // rm refuses a running task without -f; with -f it is gone.
  // As docker run -d: it returns once the task runs, so the next command finds it RUNNING.
  REQUIRE(d.svctl({"run", "-d", "--name", "busy", img, "--", "sleep", "300"}).exit_code == 0);
  REQUIRE(state_of(d, "busy") == "RUNNING");
  CHECK(d.svctl({"rm", "busy"}).exit_code == 1);
  CHECK(d.svctl({"rm", "-f", "busy"}).exit_code == 0);
  CHECK(d.svctl({"inspect", "busy"}).exit_code == 5);
}

TEST_CASE("timeout, OOM, pull failure and capacity are reported as such", "[e2e][tasks]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon("[node]\ncpus = 1\nmemory = \"1Gi\"\n");
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;

  // As timeout(1): a task its --timeout stopped exits 124 from run and from wait.
  auto timed = d.svctl({"run", "--name", "slow", "--timeout", "1s", img, "--", "sleep", "30"});
  CHECK(timed.exit_code == 124);
  CHECK(timed.err.find("TimedOut") != std::string::npos);
  CHECK(task_json(d, "slow")["stopReason"] == "TimedOut");
  auto waited = d.svctl({"wait", "slow"});
  CHECK(waited.exit_code == 124);
  CHECK(waited.err.find("TimedOut") != std::string::npos);

  auto oom = d.svctl({"run", "--name", "hog", "-m", "16Mi", img, "--", "sh", "-c",
                      "x=a; while true; do x=\"$x$x\"; done"});
  CHECK(oom.exit_code == 137);
  json h = task_json(d, "hog");
  CHECK(h["stopReason"] == "OOMKilled");
  CHECK(h["stopMessage"].get<std::string>().find("16Mi") != std::string::npos);

  // A missing image: svctl's pull fails with the registry's answer...
  std::string missing = busybox_registry().registry.host() + "/e2e/nope:1";
  auto pull = d.svctl({"run", missing, "--", "true"});
  CHECK(pull.exit_code == 125);
  CHECK(pull.err.find("nope") != std::string::npos);
  // ...and a task created through the API records ImagePullFailed.
  auto created = d.curl("POST", "/v1/tasks",
                        fmt::format(R"({{"spec":{{"name":"nopull","image":"{}"}}}})", missing));
  REQUIRE(created.exit_code == 200);
  REQUIRE(wait_state(d, "nopull", "STOPPED"));
  json np = task_json(d, "nopull");
  CHECK(np["stopReason"] == "ImagePullFailed");
  CHECK_FALSE(np.contains("exitCode"));

  // Capacity: 1 vCPU, 1 GiB. A task that does not fit is refused, or waits with --queue.
  REQUIRE(d.svctl({"run", "-d", "--name", "big", "--cpu", "0.75", img, "--", "sleep", "300"})
              .exit_code == 0);
  REQUIRE(wait_state(d, "big", "RUNNING"));
  auto refused = d.svctl({"run", "--name", "nofit", "--cpu", "0.5", img, "--", "true"});
  CHECK(refused.exit_code == 125);
  CHECK(refused.err.find("not enough capacity") != std::string::npos);
  CHECK(d.svctl({"inspect", "nofit"}).exit_code == 5);  // nothing stored
  auto queued = d.svctl(
      {"run", "-d", "--queue", "--name", "later", "--cpu", "0.5", img, "--", "sh", "-c", "exit 9"});
  REQUIRE(queued.exit_code == 0);
  json q = task_json(d, "later");
  CHECK(q["state"] == "PENDING");
  CHECK(q["queuedReason"].get<std::string>().find("capacity") != std::string::npos);
  REQUIRE(d.svctl({"stop", "-t", "0s", "big"}).exit_code == 0);
  CHECK(d.svctl({"wait", "later"}).exit_code == 9);
}

TEST_CASE("50 tasks at once all reach STOPPED with their own exit codes", "[e2e][tasks]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;
  // Small reservations so all 50 are admitted on a 2-core node.
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto r =
        d.svctl({"run", "-d", "--cpu", "20m", "-m", "16Mi", "--name", fmt::format("many-{}", i),
                 img, "--", "sh", "-c", fmt::format("sleep 0.5; exit {}", i)});
    REQUIRE(r.exit_code == 0);
    ids.push_back(r.out.substr(0, r.out.find('\n')));
  }
  for (int i = 0; i < 50; ++i) {
    auto w = d.svctl({"wait", ids[static_cast<std::size_t>(i)]}, 120s);
    INFO("task many-" << i << ": " << w.err);
    CHECK(w.exit_code == i);
  }
  auto ps = json::parse(d.svctl({"ps", "-a", "-o", "json"}).out);
  int stopped = 0;
  for (const auto& t : ps["tasks"]) stopped += t["state"] == "STOPPED" ? 1 : 0;
  CHECK(stopped == 50);
}

TEST_CASE("svcd killed with -9: running tasks re-adopted, exits while down kept, logs intact",
          "[e2e][tasks][restart]") {
  REQUIRE_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  const std::string& img = busybox_registry().image;
  for (int i = 0; i < 20; ++i)
    REQUIRE(d.svctl({"run", "-d", "--cpu", "20m", "-m", "16Mi", "--name", fmt::format("long-{}", i),
                     img, "--", "sh", "-c", fmt::format("echo started-{}; sleep 300", i)})
                .exit_code == 0);
  std::vector<std::string> short_ids;
  for (int i = 0; i < 5; ++i) {
    auto r =
        d.svctl({"run", "-d", "--cpu", "20m", "-m", "16Mi", "--name", fmt::format("short-{}", i),
                 img, "--", "sh", "-c",
                 // Exits when the test says so (SIGUSR1), not after a guessed sleep: it must be
                 // running when svcd dies and exit while svcd is down, however loaded the host.
                 fmt::format("trap 'echo done-{0}; exit {1}' USR1; echo ready-{0}; "
                             "while :; do sleep 0.1; done",
                             i, 10 + i)});
    REQUIRE(r.exit_code == 0);
    short_ids.push_back(r.out.substr(0, r.out.find('\n')));
  }
  for (int i = 0; i < 20; ++i) REQUIRE(wait_state(d, fmt::format("long-{}", i), "RUNNING"));
  for (int i = 0; i < 5; ++i)
    REQUIRE(wait_printed(d, fmt::format("short-{}", i), fmt::format("ready-{}\n", i)));

  d.kill9();
  // The short ones exit while svcd is down: their shims record each exit (exit.json in the
  // sandbox dir) with no daemon to tell. Their host pids are in the sandbox's state.json.
  for (const auto& id : short_ids) {
    INFO(id);
    auto state = read_file(d.state_dir() / "tasks" / id / "state.json");
    REQUIRE(state.has_value());
    auto pid = json::parse(*state).at("pid").get<pid_t>();
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGUSR1) == 0);
  }
  for (const auto& id : short_ids)
    REQUIRE(wait_for([&] { return fs::exists(d.state_dir() / "tasks" / id / "exit.json"); }, 30s));
  d.start();

  for (int i = 0; i < 20; ++i) {
    std::string name = fmt::format("long-{}", i);
    INFO(name);
    CHECK(state_of(d, name) == "RUNNING");
    CHECK(d.svctl({"logs", name}).out == fmt::format("started-{}\n", i));
  }
  for (int i = 0; i < 5; ++i) {
    std::string name = fmt::format("short-{}", i);
    INFO(name);
    json t = task_json(d, name);
    CHECK(t["state"] == "STOPPED");
    CHECK(t["exitCode"] == 10 + i);
    CHECK(t["stopReason"] == "Exited");
    CHECK(d.svctl({"logs", name}).out == fmt::format("ready-{0}\ndone-{0}\n", i));
  }
  // The re-adopted ones are still controllable.
  REQUIRE(d.svctl({"stop", "-t", "0s", "long-0"}).exit_code == 0);
  CHECK(d.svctl({"wait", "long-0"}).exit_code == 137);
  CHECK(task_json(d, "long-0")["stopReason"] == "StoppedByUser");
  auto ps = d.svctl({"ps", "-q"});
  CHECK(std::count(ps.out.begin(), ps.out.end(), '\n') == 19);
}

TEST_CASE("bad input over REST and gRPC is refused naming the field, and nothing is stored",
          "[e2e][tasks]") {
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  std::string big_env(10 << 20, 'x');
  struct Case {
    std::string body;
    std::string needle;
  };
  std::vector<Case> cases = {
      {R"({"spec":{"image":"busybox","bogus":1}})", "bogus"},
      {R"({"spec":{"image":5}})", "image"},
      {R"({"spec":{"image":""}})", "spec.image"},
      {R"({})", "spec"},
      {R"({"spec":{"image":"busybox","resources":{"memoryBytes":"99999999999999999"}}})",
       "memoryBytes"},
      {R"({"spec":{"image":"busybox","resources":{"cpuMillis":"-500"}}})", "cpuMillis"},
      {R"({"spec":{"image":"busybox","name":"a/b"}})", "spec.name"},
      {R"({"spec":{"image":"busybox","name":"a\u0000b"}})", "spec.name"},
      {R"({"spec":{"image":"busybox","timeout":"-5s"}})", "timeout"},
      {R"({"spec":{"image":"busybox","env":{"BIG":")" + big_env + R"("}}})", "spec.env"},
  };
  for (const auto& c : cases) {
    auto r = d.curl("POST", "/v1/tasks", c.body);
    INFO(c.body.substr(0, 120));
    CHECK(r.exit_code == 400);
    json e = json::parse(r.out);
    CHECK(e["code"] == "INVALID_ARGUMENT");
    CHECK(e["message"].get<std::string>().find(c.needle) != std::string::npos);
  }
  // The same checks over gRPC (svctl speaks gRPC). svctl pulls the image first, then Run fails.
  const std::string& img = busybox_registry().image;
  // svctl names the flag the user typed, not the proto field.
  auto grpc_bad = d.svctl({"run", "-d", "--name", "a/b", img});
  CHECK(grpc_bad.exit_code == 125);
  CHECK(grpc_bad.err.find("--name") != std::string::npos);
  CHECK(grpc_bad.err.find("spec.name") == std::string::npos);
  auto grpc_mem = d.svctl({"run", "-d", "--memory", "1", img});
  CHECK(grpc_mem.exit_code == 125);
  CHECK(grpc_mem.err.find("--memory: 1 is less than") != std::string::npos);
  CHECK(grpc_mem.err.find("memoryBytes") == std::string::npos);
  // A unit svctl does not know is refused before anything reaches svcd.
  auto bits = d.svctl({"run", "-d", "--memory", "10Gb", img});
  CHECK(bits.exit_code == 2);
  CHECK(bits.err.find("--memory") != std::string::npos);
  // 10 MB of environment does not fit on a command line: it comes from an env file.
  REQUIRE(write_file_atomic(d.dir() / "big.env", "BIG=" + big_env + "\n"));
  auto grpc_env = d.svctl({"run", "-d", "--env-file", (d.dir() / "big.env").string(), img});
  CHECK(grpc_env.exit_code == 125);
  CHECK(grpc_env.err.find("--env") != std::string::npos);
  auto listed = d.curl("GET", "/v1/tasks?all=true");
  CHECK(listed.exit_code == 200);
  CHECK(json::parse(listed.out)["tasks"].empty());
}

TEST_CASE("svctl as a new user meets it: help, a typo, a feature not built yet", "[e2e][cli]") {
  // No daemon is needed for any of this: nothing here may try to connect.
  std::map<std::string, std::string> env = {{"SVC_HOST", "unix:///nonexistent/svcd.sock"}};
  auto bare = run({svctl_path()}, 10s, env);
  CHECK(bare.exit_code == 0);
  CHECK(bare.out.find("Usage:") != std::string::npos);
  CHECK(bare.out.find("run") != std::string::npos);
  auto typo = run({svctl_path(), "rnu", "busybox"}, 10s, env);
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("unknown command \"rnu\"") != std::string::npos);
  CHECK(typo.err.find("did you mean \"run\"") != std::string::npos);
  auto deploy =
      run({svctl_path(), "trigger", "create", "thumbs", "--on-file", "/srv/in"}, 10s, env);
  CHECK(deploy.exit_code == 1);
  CHECK(deploy.err.find("does not have triggers yet") != std::string::npos);
  CHECK(deploy.err.find("cannot reach") == std::string::npos);
}
