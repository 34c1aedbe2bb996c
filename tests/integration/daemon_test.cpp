// svcd as a process: starts on a temp state dir, serves gRPC (svctl) and REST (curl) on one
// unix socket, refuses a second instance, stops on SIGTERM within a second.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/client/client.hpp"
#include "common/fd.hpp"
#include "tests/support/daemon_fixture.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;

TEST_CASE("svctl node info, -o json and REST /v1/node show the same probed facts", "[daemon]") {
  DaemonFixture d;
  d.start();
  auto table = d.svctl({"node", "info"});
  INFO(table.err << d.log());
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("Kernel:") != std::string::npos);
  CHECK(table.out.find("Cgroups:") != std::string::npos);

  auto js = d.svctl({"node", "info", "-o", "json"});
  REQUIRE(js.exit_code == 0);
  auto grpc_view = json::parse(js.out);
  auto rest = d.curl("GET", "/v1/node");
  REQUIRE(rest.exit_code == 200);
  auto rest_view = json::parse(rest.out);
  for (const char* key : {"nodeId", "hostname", "kernel", "os", "architecture", "cpus",
                          "memoryBytes", "stateDir", "cgroup", "userNamespaces", "overlayfs",
                          "seccomp", "idmappedMounts", "kvm", "version", "gitCommit"}) {
    INFO(key);
    CHECK(grpc_view.at(key) == rest_view.at(key));
  }
  // Probed from this machine, not assumed.
  std::string release = run({"uname", "-r"}).out;
  release.erase(release.find_last_not_of('\n') + 1);
  CHECK(rest_view["kernel"] == release);
  CHECK(rest_view["stateDir"] == d.state_dir().string());
  CHECK(rest_view["cpus"].get<int>() >= 1);
  if (std::filesystem::exists("/sys/module/kvm_pvm")) {
    CHECK(rest_view["kvm"]["flavour"] == "kvm_pvm");
    CHECK(rest_view["kvm"]["usableForVms"] == false);
  }
  if (is_root()) {
    CHECK(rest_view["userNamespaces"]["usable"] == true);
    CHECK(rest_view["overlayfs"]["usable"] == true);
    CHECK(rest_view["seccomp"]["usable"] == true);
  }
  // The table shows the same kernel and node id.
  CHECK(table.out.find(rest_view["kernel"].get<std::string>()) != std::string::npos);
  CHECK(table.out.find(rest_view["nodeId"].get<std::string>()) != std::string::npos);
}

TEST_CASE("REST: health, metrics, JSON errors with matching statuses", "[daemon]") {
  DaemonFixture d;
  d.start();
  auto health = d.curl("GET", "/healthz");
  CHECK(health.exit_code == 200);
  CHECK(health.out == "ok\n");
  auto metrics = d.curl("GET", "/metrics");
  CHECK(metrics.exit_code == 200);
  CHECK(metrics.out.find("svc_uptime_seconds") != std::string::npos);

  auto missing = d.curl("GET", "/v1/nothing");
  CHECK(missing.exit_code == 404);
  CHECK(json::parse(missing.out)["code"] == "NOT_FOUND");

  auto unimplemented = d.curl("GET", "/v1/triggers");
  CHECK(unimplemented.exit_code == 501);
  auto body = json::parse(unimplemented.out);
  CHECK(body["code"] == "UNIMPLEMENTED");
  CHECK(body["message"].get<std::string>().find("svc.v1.Triggers/List") != std::string::npos);

  auto wrong_method = d.curl("PUT", "/v1/node");
  CHECK(wrong_method.exit_code == 405);
  CHECK(json::parse(wrong_method.out)["code"] == "UNIMPLEMENTED");  // as grpc-gateway answers

  // A stream for something that does not exist is a 404, not a 200 carrying an error line.
  auto ghost_logs = d.curl("GET", "/v1/tasks/ghost/logs?follow=true");
  CHECK(ghost_logs.exit_code == 404);
  CHECK(json::parse(ghost_logs.out)["code"] == "NOT_FOUND");
  CHECK(d.curl("GET", "/v1/events?taskId=ghost").exit_code == 404);

  auto bad_json = d.curl("POST", "/v1/tokens", "{not json");
  CHECK(bad_json.exit_code == 400);
  CHECK(json::parse(bad_json.out)["code"] == "INVALID_ARGUMENT");
  CHECK(json::parse(bad_json.out)["message"].get<std::string>().find("line 1, column 3") !=
        std::string::npos);
  auto unknown_field = d.curl("POST", "/v1/tokens", R"({"name":"x","colour":"red"})");
  CHECK(unknown_field.exit_code == 400);
  CHECK(json::parse(unknown_field.out)["message"].get<std::string>().find("colour") !=
        std::string::npos);
}

TEST_CASE("gRPC: a call that is not built yet answers UNIMPLEMENTED by name", "[daemon]") {
  DaemonFixture d;
  d.start();
  auto client = api::Client::connect(d.host(), "").value();
  v1::ListTriggersResponse resp;
  auto ctx = client->context();
  auto status = client->triggers().List(ctx.get(), v1::ListTriggersRequest(), &resp);
  CHECK(status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(status.error_message().find("svc.v1.Triggers/List") != std::string::npos);
  // And svctl maps a NOT_FOUND to its documented exit code.
  auto r = d.svctl({"token", "revoke", "doesnotexist"});
  CHECK(r.exit_code == 5);
  CHECK(r.err.find("no token with id") != std::string::npos);
}

TEST_CASE("the socket is 0660 and a second svcd on the same state dir is refused", "[daemon]") {
  DaemonFixture d;
  d.start();
  struct stat st {};
  REQUIRE(::stat(d.socket().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  auto second = run({svcd_path(), "--config", d.config_path().string(), "--state-dir",
                     d.state_dir().string(), "--run-dir", (d.dir() / "run2").string()},
                    std::chrono::seconds(30));
  CHECK(second.exit_code != 0);
  CHECK(second.err.find("another svcd") != std::string::npos);
  CHECK(second.err.find(d.state_dir().string()) != std::string::npos);
  // The first one is unharmed.
  CHECK(d.svctl({"node", "info"}).exit_code == 0);
}

TEST_CASE("SIGTERM stops svcd within a second and removes its socket", "[daemon]") {
  DaemonFixture d;
  d.start();
  auto t0 = std::chrono::steady_clock::now();
  auto code = d.stop(std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // Not a timed assertion on speed: the issue's promise is "within a second", and the fixture
  // gives it five before calling it hung.
  INFO("stop took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                    << " ms");
  CHECK(took < std::chrono::seconds(5));
  CHECK_FALSE(std::filesystem::exists(d.socket()));
  CHECK(d.log().find("stopped") != std::string::npos);
}

TEST_CASE("svcd tells systemd READY=1 when it serves and STOPPING=1 when it stops", "[daemon]") {
  TempDir dir;
  std::string path = (dir.path() / "notify.sock").string();
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(sock);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{10, 0};
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto next = [&]() {
    char buf[512];
    ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  DaemonFixture::Options o;
  o.env["NOTIFY_SOCKET"] = path;
  DaemonFixture d(o);
  d.start();
  CHECK(next().find("READY=1") != std::string::npos);
  // Ready means served: the API answers by now.
  CHECK(d.svctl({"node", "info"}).exit_code == 0);
  REQUIRE(d.stop().value_or(-1) == 0);
  CHECK(next().find("STOPPING=1") != std::string::npos);
}

TEST_CASE("svctl says where it looked when svcd is not there", "[daemon]") {
  TempDir dir;
  auto r = run(
      {svctl_path(), "--host", "unix://" + (dir.path() / "none.sock").string(), "node", "info"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("cannot reach svcd at unix://") != std::string::npos);
  CHECK(r.err.find("does not exist") != std::string::npos);
  auto bad = run({svctl_path(), "--host", "ftp://x", "node", "info"});
  CHECK(bad.exit_code == 2);
  auto help = run({svctl_path(), "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("Exit codes:") != std::string::npos);
}

TEST_CASE("svcd --print-config and bad config files", "[daemon]") {
  TempDir dir;
  auto printed =
      run({svcd_path(), "--print-config", "--state-dir", "/srv/svc", "--config", "/dev/null"});
  REQUIRE(printed.exit_code == 0);
  CHECK(printed.out.find("state_dir = '/srv/svc'") != std::string::npos);
  CHECK(printed.out.find("[billing]") != std::string::npos);
  REQUIRE(write_file_atomic(dir.path() / "bad.toml", "[daemon]\nlog_levl = \"debug\"\n"));
  auto bad = run({svcd_path(), "--config", (dir.path() / "bad.toml").string()});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("bad.toml:2:1") != std::string::npos);
  CHECK(bad.err.find("daemon.log_levl") != std::string::npos);
  auto missing = run({svcd_path(), "--config", (dir.path() / "nope.toml").string()});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("nope.toml") != std::string::npos);
}

TEST_CASE("TCP API: a non-loopback address stops svcd, saying why", "[daemon]") {
  DaemonFixture::Options o;
  o.extra_config = "[api]\ntcp = \"0.0.0.0:0\"\n";
  DaemonFixture d(o);
  REQUIRE_THROWS(d.start());
  CHECK(d.log().find("can be reached from other machines") != std::string::npos);
  CHECK(d.log().find("api.tls_cert") != std::string::npos);
}

TEST_CASE("TCP API: off by default, token required when on", "[daemon]") {
  DaemonFixture::Options o;
  o.extra_config = "[api]\ntcp = \"127.0.0.1:0\"\n";
  DaemonFixture d(o);
  d.start();
  // Find the bound port from the log (the line follows the socket by a moment).
  std::string log;
  REQUIRE(wait_for(
      [&] {
        log = d.log();
        return log.find("tcp port ") != std::string::npos;
      },
      std::chrono::seconds(10)));
  auto at = log.find("tcp port ");
  int port = std::atoi(log.c_str() + at + 9);
  REQUIRE(port > 0);
  std::string host = fmt::format("tcp://127.0.0.1:{}", port);

  auto no_token = run({svctl_path(), "--host", host, "node", "info"}, std::chrono::seconds(30),
                      {{"SVC_TOKEN", ""}});
  CHECK(no_token.exit_code == 4);
  CHECK(no_token.err.find("token") != std::string::npos);
  auto rest_no_token = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            fmt::format("http://127.0.0.1:{}/v1/node", port)});
  CHECK(rest_no_token.out == "401");
  auto health = run({"curl", "-s", fmt::format("http://127.0.0.1:{}/healthz", port)});
  CHECK(health.out == "ok\n");

  auto created = d.svctl({"token", "create", "ci"});
  REQUIRE(created.exit_code == 0);
  std::string token = created.out.substr(0, created.out.find('\n'));
  auto with_token =
      run({svctl_path(), "--host", host, "--token", token, "node", "info", "-o", "json"});
  INFO(with_token.err);
  CHECK(with_token.exit_code == 0);
  auto rest_token = run({"curl", "-s", "-H", "Authorization: Bearer " + token,
                         fmt::format("http://127.0.0.1:{}/v1/node", port)});
  CHECK(json::parse(rest_token.out).contains("kernel"));
  // A path on the node is never read for a TCP caller (svcd would read it as root).
  auto by_path =
      run({"curl", "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + token, "-d",
           R"({"path":"/etc/shadow"})", fmt::format("http://127.0.0.1:{}/v1/images:import", port)});
  CHECK(by_path.out.ends_with("\n403"));
  CHECK(by_path.out.find("PERMISSION_DENIED") != std::string::npos);
  CHECK(by_path.out.find("TCP") != std::string::npos);
  // Tokens cannot mint tokens over TCP.
  auto mint = run({svctl_path(), "--host", host, "--token", token, "token", "create", "more"});
  CHECK(mint.exit_code == 4);

  auto ls = d.svctl({"token", "ls", "-o", "json"});
  auto id = json::parse(ls.out)["tokens"][0]["id"].get<std::string>();
  CHECK(ls.out.find(token.substr(17)) == std::string::npos);  // the secret is never listed
  REQUIRE(d.svctl({"token", "revoke", id}).exit_code == 0);
  auto revoked = run({svctl_path(), "--host", host, "--token", token, "node", "info"});
  CHECK(revoked.exit_code == 4);
}
