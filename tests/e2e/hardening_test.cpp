// svcd leaks and loses nothing, as a user and the host see it: a private state dir, orphans
// cleaned at start, its cgroup trees its own and removed when it stops, and a task whose image
// is local never waits behind slow pulls. A real svcd and svctl, real sandboxes, cgroups and
// registry (root; reported to ctest as skipped otherwise).
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "daemon/store/store.hpp"
#include "daemon/store/task_store.hpp"
#include "isolation/shim_cgroup.hpp"
#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/skip.hpp"
#include "tests/support/fault_proxy.hpp"
#include "tests/support/registry_fixture.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void import_busybox(DaemonFixture& d) {
  fs::path layout = d.dir() / "layout";
  if (!fs::exists(layout)) busybox_image().write_layout(layout, "e2e/busybox:1");
  auto r = d.svctl({"image", "import", layout.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

std::unique_ptr<DaemonFixture> start_daemon(const std::string& config = "") {
  DaemonFixture::Options o;
  o.extra_config = config;
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  import_busybox(*d);
  return d;
}

json inspect(const DaemonFixture& d, const std::string& task) {
  auto r = d.svctl({"inspect", task, "-o", "json"});
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Runs fn as uid/gid 65534 (nobody) in a child; its exit code.
int as_nobody(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(100);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

// Every directory <mount>/<name> of the host's cgroup hierarchies that exists.
std::vector<fs::path> cgroup_dirs(const std::string& name) {
  std::vector<fs::path> out;
  for (const auto& m : isolation::cgroup_mounts()) {
    std::error_code ec;
    if (fs::is_directory(m.mount_point / name, ec)) out.push_back(m.mount_point / name);
  }
  return out;
}

// The names svcd derives for a state dir when [isolation] leaves them unset.
std::string derived_base(const fs::path& state_dir) {
  return "svc-" + Digest::sha256_of(state_dir.lexically_normal().string()).hex().substr(0, 8);
}

// A safety net for a failed test: what svcd should have removed itself.
void remove_tree_now(const std::string& name) {
  for (const auto& top : cgroup_dirs(name)) {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(top, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(),
              [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(top.c_str());
  }
}

bool process_alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// `svctl -o json events ARGS` in the background: what it has printed so far, one event a line.
class EventsFollower {
 public:
  EventsFollower(const DaemonFixture& d, const std::vector<std::string>& args,
                 const std::string& name)
      : log_(d.dir() / (name + ".events")) {
    std::vector<std::string> argv = {svctl_path(), "--host", d.host(), "-o", "json", "events"};
    argv.insert(argv.end(), args.begin(), args.end());
    proc_ = std::make_unique<Background>(argv, log_.string());
  }
  std::vector<json> events() const {
    std::vector<json> out;
    std::istringstream in(read_file(log_).value_or(""));
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line, nullptr, false);  // the last line may be half written
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  std::string text() const { return read_file(log_).value_or(""); }

 private:
  fs::path log_;
  std::unique_ptr<Background> proc_;
};

std::uint64_t seq_of(const json& ev) { return std::stoull(ev.value("seq", std::string("0"))); }
bool is_marker(const json& ev) { return ev.value("dropped", std::string("0")) != "0"; }

// The events of task `name` (no markers), in the order printed.
std::vector<json> events_of(const std::vector<json>& all, const std::string& name) {
  std::vector<json> out;
  for (const auto& e : all)
    if (!is_marker(e) && e.value("taskName", "") == name) out.push_back(e);
  return out;
}

bool saw_stopped(const EventsFollower& f, const std::string& name) {
  auto evs = events_of(f.events(), name);
  return !evs.empty() && evs.back().value("state", "") == "STOPPED";
}

}  // namespace

TEST_CASE("the state dir is private: 0700, svcd.db and its -wal and -shm 0600, tasks still run",
          "[e2e][hardening]") {
  SVC_SKIP_UNLESS_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  // A task with a secret in its environment, running as a non-root user of its image: the
  // sandbox still reaches its root file system through a private state dir.
  auto r = d.svctl({"run", "--name", "secret", "--user", "1000:1000", "-e", "TOKEN=hunter2",
                    "e2e/busybox:1", "--", "sh", "-c", "id -u; ls / >/dev/null && echo ok"});
  INFO(r.err << d.log());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "1000\nok\n");
  fs::path state = d.state_dir();
  CHECK(mode_of(state) == 0700);
  CHECK(mode_of(state / "tasks") == 0700);
  CHECK(mode_of(state / "svcd.db") == 0600);
  // svcd runs: the WAL files exist and hold the latest writes.
  CHECK(mode_of(state.string() + "/svcd.db-wal") == 0600);
  CHECK(mode_of(state.string() + "/svcd.db-shm") == 0600);
  // Another local user can read none of it: not the database (every task's environment), not a
  // task's files or log.
  std::string id = inspect(d, "secret")["id"];
  for (const fs::path& p : {state / "svcd.db", state / "svcd.db-wal", state / "tasks" / id / "log",
                            state / "tasks" / id / "state.json"}) {
    INFO(p);
    CHECK(as_nobody([&] { return ::open(p.c_str(), O_RDONLY) < 0 && errno == EACCES ? 0 : 1; }) ==
          0);
  }
}

TEST_CASE("an older svcd's readable state dir and database are made private at start",
          "[e2e][hardening]") {
  SVC_SKIP_UNLESS_ROOT();
  DaemonFixture d;
  d.start();
  REQUIRE(d.stop() == 0);
  REQUIRE(::chmod(d.state_dir().c_str(), 0711) == 0);
  REQUIRE(::chmod((d.state_dir() / "svcd.db").c_str(), 0644) == 0);
  d.start();
  CHECK(mode_of(d.state_dir()) == 0700);
  CHECK(mode_of(d.state_dir() / "svcd.db") == 0600);
}

TEST_CASE("orphans found at start are cleaned: processes, dirs, cgroups, uid ranges",
          "[e2e][hardening]") {
  SVC_SKIP_UNLESS_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.svctl({"run", "-d", "--name", "orphan", "e2e/busybox:1", "--", "sleep", "3600"})
              .exit_code == 0);
  REQUIRE(wait_for([&] { return inspect(d, "orphan").value("state", "") == "RUNNING"; }, 30s));
  json t = inspect(d, "orphan");
  std::string id = t["id"];
  int pid = t["pid"];
  REQUIRE(process_alive(pid));
  // svcd dies, and the task's row goes as a removal cut short would leave it: the sandbox
  // (its shim, process, cgroup, uid range and dir) belongs to no task any more.
  d.kill9();
  {
    auto store = daemon::Store::open(d.state_dir() / "svcd.db").value();
    daemon::SqlTaskStore tasks(*store);
    REQUIRE(tasks.remove(id));
  }
  // And what a create cut short leaves: a cgroup without a sandbox dir, a uid range without one.
  std::string base = d.cgroup_base();
  std::string ghost = "0123456789abcdef";
  std::vector<fs::path> ghost_cgroups;
  for (const auto& top : cgroup_dirs(base)) {
    fs::path p = top / "sandboxes" / ghost;
    if (::mkdir(p.c_str(), 0755) == 0) ghost_cgroups.push_back(p);
  }
  REQUIRE_FALSE(ghost_cgroups.empty());
  fs::path ranges = d.state_dir() / "uid-ranges";
  {
    std::ofstream out(ranges, std::ios::app);
    out << "9000 " << (d.state_dir() / "tasks" / ghost).string() << "\n";
  }
  REQUIRE(read_file(ranges).value().find(id) != std::string::npos);

  d.start();
  CHECK(wait_for([&] { return !process_alive(pid); }, 30s));
  CHECK_FALSE(fs::exists(d.state_dir() / "tasks" / id));
  for (const auto& top : cgroup_dirs(base)) {
    INFO(top);
    CHECK_FALSE(fs::exists(top / "sandboxes" / id));
    CHECK_FALSE(fs::exists(top / "sandboxes" / ghost));
  }
  std::string left = read_file(ranges).value_or("");
  CHECK(left.find(id) == std::string::npos);
  CHECK(left.find(ghost) == std::string::npos);
  CHECK(d.log().find("removed 1 sandbox(es) that belonged to no task: " + id) != std::string::npos);
  // Nothing of a live task is touched.
  auto kept = d.svctl({"run", "--rm", "e2e/busybox:1", "--", "true"});
  CHECK(kept.exit_code == 0);
}

TEST_CASE(
    "the cgroups svcd made are removed when it stops with nothing running, kept while a "
    "task runs",
    "[e2e][hardening]") {
  SVC_SKIP_UNLESS_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  std::string base = d.cgroup_base();
  std::string shims = base + "-shims";
  REQUIRE(d.svctl({"run", "--name", "done", "e2e/busybox:1", "--", "true"}).exit_code == 0);
  CHECK_FALSE(cgroup_dirs(base).empty());
  REQUIRE(d.stop() == 0);
  // A stopped task's sandbox holds no process: its cgroup goes with the rest.
  CHECK(cgroup_dirs(base).empty());
  CHECK(cgroup_dirs(shims).empty());

  d.start();
  REQUIRE(
      d.svctl({"run", "-d", "--name", "runs", "e2e/busybox:1", "--", "sleep", "3600"}).exit_code ==
      0);
  REQUIRE(wait_for([&] { return inspect(d, "runs").value("state", "") == "RUNNING"; }, 30s));
  std::string id = inspect(d, "runs")["id"];
  REQUIRE(d.stop() == 0);
  // It runs on (its shim outlives svcd): its cgroup stays, and the next svcd re-adopts it.
  bool found = false;
  for (const auto& top : cgroup_dirs(base)) found = found || fs::exists(top / "sandboxes" / id);
  CHECK(found);
  d.start();
  CHECK(inspect(d, "runs").value("state", "") == "RUNNING");
  REQUIRE(d.svctl({"rm", "-f", "runs"}).exit_code == 0);
  REQUIRE(d.svctl({"rm", "done"}).exit_code == 0);
  REQUIRE(d.stop() == 0);
  CHECK(cgroup_dirs(base).empty());
  CHECK(cgroup_dirs(shims).empty());
}

TEST_CASE(
    "two svcd with different state dirs get cgroup trees of their own, and one named twice is "
    "refused",
    "[e2e][hardening]") {
  SVC_SKIP_UNLESS_ROOT();
  // "[isolation]" without keys: the names follow each state dir (the fixture sets none).
  auto a = start_daemon("[isolation]\n");
  auto b = start_daemon("[isolation]\n");
  std::string base_a = derived_base(a->state_dir());
  std::string base_b = derived_base(b->state_dir());
  REQUIRE(base_a != base_b);
  struct Cleanup {
    std::vector<std::string> names;
    ~Cleanup() {
      for (const auto& n : names) remove_tree_now(n);
    }
  } cleanup{{base_a, base_a + "-shims", base_b, base_b + "-shims"}};
  for (auto* d : {a.get(), b.get()}) {
    auto r = d->svctl({"run", "-d", "--name", "where", "e2e/busybox:1", "--", "sleep", "3600"});
    REQUIRE(r.exit_code == 0);
  }
  auto cgroup_of = [](const DaemonFixture& d) {
    json t = inspect(d, "where");
    std::string id = t["id"];
    REQUIRE(wait_for([&] { return inspect(d, "where").value("state", "") == "RUNNING"; }, 30s));
    int pid = inspect(d, "where")["pid"];
    return read_file(fmt::format("/proc/{}/cgroup", pid)).value_or("") + "|" + id;
  };
  std::string in_a = cgroup_of(*a);
  std::string in_b = cgroup_of(*b);
  CHECK(in_a.find("/" + base_a + "/sandboxes/") != std::string::npos);
  CHECK(in_b.find("/" + base_b + "/sandboxes/") != std::string::npos);
  CHECK(in_a.find("/svc/") == std::string::npos);

  // A third one told to use a's tree is refused, and a's sandbox is left alone.
  DaemonFixture::Options o;
  o.extra_config =
      fmt::format("[isolation]\ncgroup_base = \"{}\"\nshim_cgroup = \"{}-c\"\n", base_a, base_a);
  DaemonFixture c(o);
  CHECK_THROWS(c.start());
  CHECK(c.log().find("cgroup tree " + base_a) != std::string::npos);
  CHECK(c.log().find("in use by another svcd (pid " + std::to_string(a->pid()) + ")") !=
        std::string::npos);
  CHECK(inspect(*a, "where").value("state", "") == "RUNNING");

  for (auto* d : {a.get(), b.get()}) {
    REQUIRE(d->svctl({"rm", "-f", "where"}).exit_code == 0);
    REQUIRE(d->stop() == 0);
  }
  CHECK(cgroup_dirs(base_a).empty());
  CHECK(cgroup_dirs(base_b).empty());
}

TEST_CASE("eight pulls from hung registries do not hold up a task whose image is local",
          "[e2e][hardening]") {
  SVC_SKIP_UNLESS_ROOT();
  RegistryFixture registry;
  registry.start();
  // Images of their own (the local one's layers are on the node already, so a pull of the
  // same image would need no layer): each with a layer of noise the proxies never deliver.
  std::mt19937 rng(8);
  for (int i = 0; i < 8; ++i) {
    std::string noise(256 * 1024, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    ImageBuilder image = busybox_image();
    image.layer(LayerBuilder().file("/noise", noise));
    registry.push(image, fmt::format("slow/busybox:{}", i));
  }
  // Eight "registries" that accept a layer request and never answer it.
  std::vector<std::unique_ptr<FaultProxy>> proxies;
  std::string insecure;
  for (int i = 0; i < 8; ++i) {
    auto p = std::make_unique<FaultProxy>(registry.port());
    p->set_mode(FaultProxy::Mode::kHangBlob);
    p->start();
    insecure += (insecure.empty() ? "\"" : ", \"") + p->host() + "\"";
    proxies.push_back(std::move(p));
  }
  // A stall timeout far past the test: the hung pulls cannot end while it runs.
  auto daemon = start_daemon(
      fmt::format("[registries]\ninsecure = [{}]\nstall_timeout = \"30m\"\n", insecure));
  DaemonFixture& d = *daemon;
  // Through the API, so that svcd pulls (svctl run would pull first itself, with progress).
  for (int i = 0; i < 8; ++i) {
    auto r = d.curl("POST", "/v1/tasks",
                    fmt::format(R"({{"spec":{{"name":"slow-{}","image":"{}/slow/busybox:{}",)"
                                R"("args":["true"]}}}})",
                                i, proxies[i]->host(), i));
    INFO(r.out);
    REQUIRE(r.exit_code == 200);
  }
  // Every pull is under way: each proxy has been asked for the layer it will never send.
  REQUIRE(wait_for(
      [&] {
        for (const auto& p : proxies)
          if (p->blob_requests() == 0) return false;
        return true;
      },
      60s));
  auto local = d.svctl({"run", "--rm", "e2e/busybox:1", "--", "echo", "local"});
  INFO(local.err);
  CHECK(local.exit_code == 0);
  CHECK(local.out == "local\n");
  // ... while the slow ones still wait for their registries.
  for (int i = 0; i < 8; ++i) {
    json t = inspect(d, fmt::format("slow-{}", i));
    INFO(t.dump());
    CHECK(t.value("state", "") == "PULLING");
  }
  // Removing them cancels their pulls.
  for (int i = 0; i < 8; ++i)
    CHECK(d.svctl({"rm", "-f", fmt::format("slow-{}", i)}).exit_code == 0);
  for (auto& p : proxies) p->stop();
}

TEST_CASE(
    "events are numbered, resume after a sequence, and a restart's gap is reported, never "
    "reused",
    "[e2e][hardening][events]") {
  SVC_SKIP_UNLESS_ROOT();
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;
  REQUIRE(d.svctl({"run", "--name", "first", "e2e/busybox:1", "--", "true"}).exit_code == 0);

  // From sequence 0: every event svcd still keeps, then new ones.
  std::vector<std::uint64_t> seqs;
  {
    EventsFollower all(d, {"--since-seq", "0"}, "all");
    REQUIRE(wait_for([&] { return saw_stopped(all, "first"); }, 30s));
    auto first = events_of(all.events(), "first");
    INFO(all.text());
    REQUIRE(first.size() >= 4);  // created, pulling, starting, running, stopped
    CHECK(first.front().value("state", "") == "PENDING");
    for (const auto& e : first) seqs.push_back(seq_of(e));
    CHECK(std::adjacent_find(seqs.begin(), seqs.end(), std::greater_equal<>()) == seqs.end());
    CHECK(seqs.front() > 0);
  }

  // Resumed after the first of them: the others, not it; then a new task's as they happen.
  {
    EventsFollower resumed(d, {"--task", "first", "--since-seq", std::to_string(seqs.front())},
                           "resumed");
    REQUIRE(wait_for([&] { return saw_stopped(resumed, "first"); }, 30s));
    auto again = events_of(resumed.events(), "first");
    INFO(resumed.text());
    REQUIRE(again.size() == seqs.size() - 1);
    CHECK(seq_of(again.front()) == seqs[1]);
    CHECK(seq_of(again.back()) == seqs.back());
    EventsFollower live(d, {"--since-seq", std::to_string(seqs.back())}, "live");
    REQUIRE(d.svctl({"run", "--name", "second", "e2e/busybox:1", "--", "true"}).exit_code == 0);
    REQUIRE(wait_for([&] { return saw_stopped(live, "second"); }, 30s));
    auto second = events_of(live.events(), "second");
    CHECK(events_of(live.events(), "first").empty());
    CHECK(seq_of(second.front()) > seqs.back());
    seqs.push_back(seq_of(second.back()));
  }

  // A sequence no event has had yet is refused, and says what to do.
  auto ahead = d.svctl({"events", "--since-seq", "999999999"});
  CHECK(ahead.exit_code == 1);
  CHECK(ahead.err.find("999999999 is ahead of the newest event") != std::string::npos);

  // svcd restarts: its numbers go on above the old ones, and a resume from the old run is told
  // that what that run had is no longer kept, before the new events.
  REQUIRE(d.stop() == 0);
  d.start();
  REQUIRE(d.svctl({"run", "--name", "third", "e2e/busybox:1", "--", "true"}).exit_code == 0);
  EventsFollower after(d, {"--since-seq", std::to_string(seqs.back())}, "after");
  REQUIRE(wait_for([&] { return saw_stopped(after, "third"); }, 30s));
  auto evs = after.events();
  INFO(after.text());
  REQUIRE(evs.size() >= 2);
  CHECK(is_marker(evs.front()));
  CHECK(evs.front().value("message", "").find("no longer keeps them") != std::string::npos);
  auto third = events_of(evs, "third");
  REQUIRE_FALSE(third.empty());
  CHECK(seq_of(third.front()) > seqs.back());
}
