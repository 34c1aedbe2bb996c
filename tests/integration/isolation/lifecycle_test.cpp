// Sandboxes through their whole life against the real kernel (root): run, exit codes, signals,
// stop with a grace period, logs, and removal that leaves no mount, cgroup or directory behind.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "isolation/bridge.hpp"
#include "isolation/bridge_rules.hpp"
#include "isolation/exit_monitor.hpp"
#include "isolation/log_reader.hpp"
#include "isolation/shim_cgroup.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sandbox_fixture.hpp"

using namespace svc;
using namespace svc::isolation;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("a sandbox runs a command, logs its output and reports its exit code", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  auto exit = fx.run(id, fx.spec({"sh", "-c", "echo hello; echo oops >&2; exit 3"}));
  CHECK(exit.exit_code == 3);
  CHECK(exit.signal == 0);
  CHECK_FALSE(exit.oom_killed);
  CHECK(exit.started_at.has_value());
  std::string log = fx.log_text(id);
  CHECK(log.find("hello\n") != std::string::npos);
  CHECK(log.find("oops\n") != std::string::npos);
  auto lines = read_log(fx.runtime().sandbox_dir(id), {});
  REQUIRE(lines);
  bool saw_err = false;
  for (const auto& l : *lines)
    if (l.text == "oops") saw_err = l.stream == LogStream::kStderr;
  CHECK(saw_err);
  REQUIRE(fx.runtime().remove(id));
  CHECK_FALSE(fs::exists(fx.runtime().sandbox_dir(id)));
}

namespace {

bool cgroup_exists(test::SandboxFixture& fx, const std::string& cgroup) {
  for (const auto& m : cgroup_mounts())
    if (fs::exists(m.mount_point / fx.cgroup_base() / cgroup)) return true;
  return false;
}

// Every process's net namespace inode on the host: a sandbox's must be gone after remove.
bool netns_in_use(ino_t ino) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    struct stat st {};
    if (::stat((e.path() / "ns/net").c_str(), &st) == 0 && st.st_ino == ino) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a task killed by a signal reports the signal", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  REQUIRE(fx.runtime().create(id, fx.spec({"sleep", "60"})));
  REQUIRE(fx.runtime().start(id));
  REQUIRE(fx.runtime().kill(id, SIGKILL));
  auto exit = fx.runtime().wait(id, 10s);
  REQUIRE(exit);
  CHECK(exit->signal == SIGKILL);
  CHECK(exit->exit_code == 128 + SIGKILL);
}

TEST_CASE("a task that handles SIGTERM exits on its own terms", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  REQUIRE(fx.runtime().create(
      id, fx.spec({"sh", "-c",
                   "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.05; done"})));
  REQUIRE(fx.runtime().start(id));
  REQUIRE(test::wait_for([&] { return fx.log_text(id).find("ready") != std::string::npos; }, 5s));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(fx.runtime().stop(id, SIGTERM, 10s));
  auto exit = fx.runtime().wait(id, 10s);
  REQUIRE(exit);
  CHECK(exit->exit_code == 7);
  CHECK(exit->signal == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(fx.log_text(id).find("bye") != std::string::npos);
}

TEST_CASE("stop sends SIGKILL after the grace period, from the shim", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  // sleep as the namespace's init has no SIGTERM handler: the kernel drops SIGTERM.
  REQUIRE(fx.runtime().create(id, fx.spec({"sleep", "60"})));
  REQUIRE(fx.runtime().start(id));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(fx.runtime().stop(id, SIGTERM, 300ms));
  // Nobody else acts: the runtime object could be gone; the shim's timer does the kill.
  auto exit = fx.runtime().wait(id, 10s);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(exit);
  CHECK(exit->signal == SIGKILL);
  CHECK(took >= 290ms);
  CHECK(took < 5s);
}

TEST_CASE("remove leaves no mount, cgroup, namespace, id range or directory", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  auto mounts_before = test::mount_lines();
  std::string id = fx.next_id();
  auto spec = fx.spec({"sleep", "60"});
  MountSpec tmp;
  tmp.type = MountSpec::Type::kTmpfs;
  tmp.target = "/scratch";
  spec.mounts.push_back(tmp);
  MountSpec bind;
  bind.source = fx.rootfs() / "etc";
  bind.target = "/mnt/etc";
  bind.readonly = true;
  spec.mounts.push_back(bind);
  auto info = fx.runtime().create(id, spec);
  REQUIRE(info);
  REQUIRE(fx.runtime().start(id));
  struct stat ns {};
  REQUIRE(::stat(("/proc/" + std::to_string(info->pid) + "/ns/net").c_str(), &ns) == 0);
  CHECK(cgroup_exists(fx, info->cgroup));
  CHECK(test::mount_lines() == mounts_before);  // nothing is ever mounted in the host's view
  auto running = fx.runtime().remove(id);
  REQUIRE_FALSE(running);
  CHECK(running.error().code() == Code::kFailedPrecondition);
  REQUIRE(fx.runtime().remove(id, true));
  CHECK_FALSE(fs::exists(info->dir));
  CHECK_FALSE(cgroup_exists(fx, info->cgroup));
  CHECK_FALSE(netns_in_use(ns.st_ino));
  CHECK(test::mount_lines() == mounts_before);
  auto range = fx.pool().find(info->dir.string());
  REQUIRE(range);
  CHECK_FALSE(range->has_value());
  CHECK(fx.runtime().remove(id).error().code() == Code::kNotFound);
}

TEST_CASE("a failed exec is reported by start and in the exit record", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  REQUIRE(fx.runtime().create(id, fx.spec({"/no/such/binary"})));
  auto started = fx.runtime().start(id);
  REQUIRE_FALSE(started);
  CHECK(started.error().code() == Code::kNotFound);
  CHECK(started.error().message().find("/no/such/binary") != std::string::npos);
  auto exit = fx.runtime().wait(id, 10s);
  REQUIRE(exit);
  CHECK(exit->exit_code == 127);
  CHECK(exit->error.find("/no/such/binary") != std::string::npos);
}

TEST_CASE("create with start runs at once - a created sandbox can be removed unstarted",
          "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  CreateOptions o;
  o.start = true;
  auto info = fx.runtime().create(id, fx.spec({"sh", "-c", "exit 5"}), o);
  REQUIRE(info);
  CHECK(info->status == SandboxStatus::kRunning);
  auto exit = fx.runtime().wait(id, 10s);
  REQUIRE(exit);
  CHECK(exit->exit_code == 5);

  std::string idle = fx.next_id();
  REQUIRE(fx.runtime().create(idle, fx.spec({"sh", "-c", "echo never >&2"})));
  auto st = fx.runtime().state(idle);
  REQUIRE(st);
  CHECK(st->status == SandboxStatus::kCreated);
  REQUIRE(fx.runtime().remove(idle));
  CHECK_FALSE(fs::exists(st->dir));
}

TEST_CASE("a restarted runtime re-adopts running sandboxes - shims live outside our cgroup",
          "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  pid_t shim = 0;
  {
    auto first = fx.make_runtime();
    auto info = first->create(
        id, fx.spec({"sh", "-c", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done"}));
    REQUIRE(info);
    REQUIRE(first->start(id));
    shim = info->shim_pid;
    REQUIRE(test::wait_for([&] { return fx.log_text(id).find("ready") != std::string::npos; }, 5s));
  }  // the "daemon" goes away
  auto second = fx.make_runtime();
  auto all = second->list();
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->at(0).id == id);
  CHECK(all->at(0).status == SandboxStatus::kRunning);
  CHECK(all->at(0).shim_alive);
  CHECK(all->at(0).shim_pid == shim);
  // The shim is not in this process's cgroups (a daemon restart by systemd kills those).
  auto mine = read_file("/proc/self/cgroup");
  auto theirs = read_file("/proc/" + std::to_string(shim) + "/cgroup");
  REQUIRE(mine);
  REQUIRE(theirs);
  CHECK(theirs->find(fx.shim_cgroup()) != std::string::npos);
  // ... nor in the sandbox's (its pids limit, its kill_all), in any hierarchy.
  CHECK(theirs->find(all->at(0).cgroup) == std::string::npos);
  auto ppid_line = read_file("/proc/" + std::to_string(shim) + "/stat");
  REQUIRE(ppid_line);
  CHECK(std::stoi(ppid_line->substr(ppid_line->rfind(')') + 4)) != ::getpid());
  REQUIRE(second->stop(id, SIGTERM, 5s));
  auto exit = second->wait(id, 10s);
  REQUIRE(exit);
  CHECK(exit->exit_code == 3);
}

TEST_CASE("the exit monitor reports exits from one thread, also after the fact", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  ExitMonitor monitor;
  std::mutex mu;
  std::map<std::string, ExitRecord> seen;
  auto cb = [&](const std::string& id, const ExitRecord& r) {
    std::lock_guard lock(mu);
    seen[id] = r;
  };
  std::string a = fx.next_id(), b = fx.next_id(), c = fx.next_id();
  for (const auto& id : {a, b}) REQUIRE(fx.runtime().create(id, fx.spec({"sleep", "60"})));
  for (const auto& id : {a, b}) REQUIRE(fx.runtime().start(id));
  REQUIRE(monitor.watch(a, fx.runtime().sandbox_dir(a), cb));
  REQUIRE(monitor.watch(b, fx.runtime().sandbox_dir(b), cb));
  CHECK(monitor.watch(a, fx.runtime().sandbox_dir(a), cb).error().code() == Code::kAlreadyExists);
  CHECK(monitor.watching() == 2);
  REQUIRE(fx.runtime().kill(a, SIGKILL));
  REQUIRE(test::wait_for(
      [&] {
        std::lock_guard lock(mu);
        return seen.count(a) == 1;
      },
      10s));
  {
    std::lock_guard lock(mu);
    CHECK(seen[a].signal == SIGKILL);
    CHECK(seen.count(b) == 0);
  }
  // One that ended before anyone watched: reported from its exit.json.
  auto exit = fx.run(c, fx.spec({"sh", "-c", "exit 9"}));
  REQUIRE(exit.exit_code == 9);
  REQUIRE(monitor.watch(c, fx.runtime().sandbox_dir(c), cb));
  REQUIRE(test::wait_for(
      [&] {
        std::lock_guard lock(mu);
        return seen.count(c) == 1;
      },
      10s));
  {
    std::lock_guard lock(mu);
    CHECK(seen[c].exit_code == 9);
  }
  monitor.unwatch(b);
  CHECK(monitor.watching() == 0);
}

TEST_CASE("stats show a running sandbox's usage", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  REQUIRE(fx.runtime().create(id, fx.spec({"sh", "-c", "sleep 60 & sleep 60 & wait"})));
  REQUIRE(fx.runtime().start(id));
  CgroupStats st;
  REQUIRE(test::wait_for(
      [&] {
        auto s = fx.runtime().stats(id);
        if (s) st = *s;
        return s && s->pids >= 3;
      },
      5s));
  CHECK(st.memory_bytes > 0);
  CHECK(st.oom_kills == 0);
  REQUIRE(fx.runtime().remove(id, true));
}

TEST_CASE("logs rotate at the cap and read back in order", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  auto spec = fx.spec({"sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"});
  spec.log_max_bytes = 8192;
  auto exit = fx.run(id, spec);
  CHECK(exit.exit_code == 0);
  fs::path dir = fx.runtime().sandbox_dir(id);
  CHECK(fs::exists(dir / "log.1"));
  CHECK(fs::file_size(dir / "log") <= 8192);
  auto lines = read_log(dir, {});
  REQUIRE(lines);
  REQUIRE(lines->size() > 100);
  CHECK(lines->back().text == "line-399");
  // Consecutive, oldest first, across the two files.
  int first = std::stoi(lines->front().text.substr(5));
  for (std::size_t i = 0; i < lines->size(); ++i)
    CHECK(lines->at(i).text == "line-" + std::to_string(first + static_cast<int>(i)));
  LogQuery last3;
  last3.tail = 3;
  auto tail = read_log(dir, last3);
  REQUIRE(tail);
  REQUIRE(tail->size() == 3);
  CHECK(tail->at(0).text == "line-397");
}

TEST_CASE("a private network is reachable through connect_tcp and nowhere else", "[network]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  // A port free on the host's loopback, to show the sandbox's is a different one.
  int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  std::uint16_t port = ntohs(a.sin_port);
  ::close(probe);
  REQUIRE(fx.runtime().create(
      id, fx.spec({"probe", "serve", std::to_string(port), "hello from inside\n"})));
  REQUIRE(fx.runtime().start(id));
  REQUIRE(
      test::wait_for([&] { return fx.log_text(id).find("listening") != std::string::npos; }, 5s));
  auto conn = fx.runtime().connect_tcp(id, static_cast<std::uint16_t>(port), 2s);
  REQUIRE(conn);
  char buf[64] = {0};
  REQUIRE(test::wait_for([&] { return ::recv(conn->get(), buf, sizeof buf - 1, MSG_DONTWAIT) > 0; },
                         5s));
  CHECK(std::string(buf) == "hello from inside\n");
  // The host's loopback has nothing on that port.
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(s);
  REQUIRE(fx.runtime().remove(id, true));
  CHECK_FALSE(fx.runtime().connect_tcp(id, port, 1s));
}

TEST_CASE("network none has not even loopback up", "[network]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  auto spec = fx.spec({"cat", "/sys/class/net/lo/flags"});
  spec.network = NetworkMode::kNone;
  auto exit = fx.run(id, spec);
  CHECK(exit.exit_code == 0);
  CHECK(fx.log_text(id) == "0x8\n");  // IFF_LOOPBACK without IFF_UP
  std::string id2 = fx.next_id();
  auto exit2 = fx.run(id2, fx.spec({"cat", "/sys/class/net/lo/flags"}));
  CHECK(fx.log_text(id2) == "0x9\n");
}

namespace {

// A server on the host, on the bridge's gateway address: what "a host service" is here.
struct HostServer {
  int fd = -1;
  std::uint16_t port = 0;
  std::thread thread;
  explicit HostServer(const std::string& address) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread = std::thread([this] {
      for (;;) {
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) return;
        ssize_t ignored = ::write(c, "hello sandbox\n", 14);
        (void)ignored;
        ::close(c);
      }
    });
  }
  ~HostServer() {
    ::shutdown(fd, SHUT_RDWR);
    thread.join();
    ::close(fd);
  }
};

std::string ruleset() { return test::sh("nft list ruleset").out; }

}  // namespace

TEST_CASE("bridge mode: an address from the range, a route to the host, the veth removed",
          "[network]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  if (::access("/usr/sbin/nft", X_OK) != 0 && ::access("/sbin/nft", X_OK) != 0)
    SVC_SKIP("nft is not installed (packaging/install-deps.sh installs nftables)");
  std::string before = ruleset();
  std::string a = fx.next_id(), b = fx.next_id();
  auto spec =
      fx.spec({"sh", "-c",
               "ip -4 addr show eth0; ip route; while :; do nc -l -p 7000 -e echo from-a; done"});
  spec.network = NetworkMode::kBridge;
  auto ia = fx.runtime().create(a, spec);
  REQUIRE(ia);
  REQUIRE(fx.runtime().start(a));
  auto sa = fx.runtime().state(a);
  REQUIRE(sa);
  std::string prefix = fx.bridge().subnet.substr(0, fx.bridge().subnet.rfind('.') + 1);
  CHECK(sa->address.starts_with(prefix));
  std::string gateway = prefix + "1";
  REQUIRE(
      test::wait_for([&] { return fx.log_text(a).find("default via") != std::string::npos; }, 5s));
  std::string log = fx.log_text(a);
  INFO(log);
  CHECK(log.find(sa->address + "/24") != std::string::npos);
  CHECK(log.find("default via " + gateway) != std::string::npos);
  // svc's own table, no other rule of the host's changed.
  CHECK(ruleset().find("table ip " + bridge_table_name(fx.bridge())) != std::string::npos);

  // By default a bridge task reaches neither the host's services nor another bridge task.
  HostServer host(gateway);
  auto spec_b = fx.spec({"sh", "-c",
                         fmt::format("nc -w 2 {} {} && echo reached-host; nc -w 2 {} 7000 && "
                                     "echo reached-a; echo done",
                                     gateway, host.port, sa->address)});
  spec_b.network = NetworkMode::kBridge;
  fx.run(b, spec_b);
  std::string log_b = fx.log_text(b);
  INFO(log_b);
  CHECK(log_b.find("done\n") != std::string::npos);
  CHECK(log_b.find("hello sandbox") == std::string::npos);
  CHECK(log_b.find("reached-") == std::string::npos);
  auto sb = fx.runtime().state(b);
  REQUIRE(sb);
  CHECK(sb->address != sa->address);

  // An operator who allows both: the same sandbox reaches both.
  BridgeOptions open = fx.bridge();
  open.reach_host = true;
  open.reach_each_other = true;
  auto allowing = fx.make_runtime(open);
  std::string c = fx.next_id();
  auto spec_c = fx.spec(
      {"sh", "-c", fmt::format("nc -w 5 {} {}; nc -w 5 {} 7000", gateway, host.port, sa->address)});
  spec_c.network = NetworkMode::kBridge;
  REQUIRE(allowing->create(c, spec_c));
  REQUIRE(allowing->start(c));
  REQUIRE(allowing->wait(c, 30s));
  CHECK(fx.log_text(c) == "hello sandbox\nfrom-a\n");

  // The host ends go with the sandboxes.
  std::string veth;
  if (auto st = read_file(fx.runtime().sandbox_dir(a) / "state.json")) {
    auto pos = st->find("\"host_veth\": \"");
    if (pos != std::string::npos) veth = st->substr(pos + 14, 11);
  }
  REQUIRE_FALSE(veth.empty());
  CHECK(::if_nametoindex(veth.c_str()) != 0);
  REQUIRE(allowing->remove(c, true));
  REQUIRE(fx.runtime().remove(a, true));
  REQUIRE(fx.runtime().remove(b));
  CHECK(::if_nametoindex(veth.c_str()) == 0);
  // Torn down, the bridge takes its table with it, and every table the host had is still there
  // (other tests may add their own meanwhile: only ours is compared).
  REQUIRE(remove_bridge(fx.bridge()));
  std::string after = ruleset();
  CHECK(after.find("table ip " + bridge_table_name(fx.bridge())) == std::string::npos);
  for (std::size_t pos = before.find("table "); pos != std::string::npos;
       pos = before.find("table ", pos + 1)) {
    std::string line = before.substr(pos, before.find('{', pos) - pos);
    if (line.find("svc_") == std::string::npos) CHECK(after.find(line) != std::string::npos);
  }
}

TEST_CASE("a killed shim takes its task with it and the sandbox reads as lost", "[lifecycle]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  std::string id = fx.next_id();
  auto info = fx.runtime().create(id, fx.spec({"sleep", "60"}));
  REQUIRE(info);
  REQUIRE(fx.runtime().start(id));
  REQUIRE(::kill(info->shim_pid, SIGKILL) == 0);
  // The task must not live on without its parent (its logs and exit status would be lost).
  REQUIRE(test::wait_for([&] { return ::kill(info->pid, 0) != 0; }, 5s));
  auto st = fx.runtime().state(id);
  REQUIRE(st);
  CHECK(st->status == SandboxStatus::kStopped);
  REQUIRE(st->exit);
  CHECK(st->exit->shim_lost);
  auto exit = fx.runtime().wait(id, 5s);
  REQUIRE(exit);
  CHECK(exit->shim_lost);
  REQUIRE(fx.runtime().remove(id));
  CHECK_FALSE(fs::exists(info->dir));
}
