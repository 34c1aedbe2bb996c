// The audit log through a real svcd: calls made with svctl (gRPC) and curl (REST), on the unix
// socket and over TCP with a token, each appear in `svctl audit` with who made it, what it named
// and how it ended; reads do not; the log is read only on the node; it survives a restart.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_fixture.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;

namespace {

int tcp_port_of(const DaemonFixture& d) {
  std::string log;
  REQUIRE(wait_for(
      [&] {
        log = d.log();
        return log.find("tcp port ") != std::string::npos;
      },
      std::chrono::seconds(10)));
  return std::atoi(log.c_str() + log.find("tcp port ") + 9);
}

json audit(const DaemonFixture& d, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"audit", "-o", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = d.svctl(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  return j.contains("events") ? j["events"] : json::array();
}

// The newest event for method, or null.
json newest(const json& events, const std::string& method) {
  for (const auto& e : events)
    if (e.value("method", "") == method) return e;
  return json();
}

}  // namespace

TEST_CASE("svctl audit shows every mutating call with who, what, when and result",
          "[daemon][audit]") {
  DaemonFixture::Options o;
  o.extra_config = "[api]\ntcp = \"127.0.0.1:0\"\n";
  DaemonFixture d(o);
  d.start();
  const std::string uid = fmt::format("uid:{}", ::getuid());
  std::string host = fmt::format("tcp://127.0.0.1:{}", tcp_port_of(d));

  // Reads leave nothing.
  REQUIRE(d.svctl({"ps"}).exit_code == 0);
  REQUIRE(d.svctl({"node", "info"}).exit_code == 0);
  CHECK(audit(d).empty());

  // On the unix socket: the caller's uid, from the kernel.
  auto created = d.svctl({"token", "create", "ci"});
  REQUIRE(created.exit_code == 0);
  std::string token = created.out.substr(0, created.out.find('\n'));
  CHECK(d.svctl({"stop", "ghost"}).exit_code == 5);
  // REST on the same socket.
  CHECK(d.curl("DELETE", "/v1/images/nothing:here").exit_code == 404);

  // Over TCP: the token's name and the peer's address.
  auto remote = run({svctl_path(), "--host", host, "--token", token, "rm", "ghost2"});
  CHECK(remote.exit_code == 5);
  auto mint = run({svctl_path(), "--host", host, "--token", token, "token", "create", "more"});
  CHECK(mint.exit_code == 4);

  json events = audit(d);
  INFO(events.dump(2));
  REQUIRE(events.size() == 5);

  json create = newest(events, "svc.v1.Tokens/Create");
  // Newest first: the refused mint over TCP comes before the local create.
  CHECK(create["principal"] == "token:ci");
  CHECK(create["code"] == "PERMISSION_DENIED");
  CHECK(create["transport"] == "tcp");
  CHECK(create["peer"].get<std::string>().starts_with("127.0.0.1:"));
  CHECK(events.back()["method"] == "svc.v1.Tokens/Create");
  CHECK(events.back()["principal"] == uid);
  CHECK(events.back()["target"] == "ci");
  CHECK(events.back()["code"] == "OK");
  CHECK(events.back()["transport"] == "unix");
  // The secret never reaches the log.
  CHECK(events.dump().find(token.substr(token.rfind('_') + 1)) == std::string::npos);

  json stop = newest(events, "svc.v1.Tasks/Stop");
  CHECK(stop["principal"] == uid);
  CHECK(stop["target"] == "ghost");
  CHECK(stop["code"] == "NOT_FOUND");
  CHECK(!stop.value("message", "").empty());

  json image = newest(events, "svc.v1.Images/Remove");
  CHECK(image["principal"] == uid);
  CHECK(image["target"] == "nothing:here");
  CHECK(image["code"] == "NOT_FOUND");

  json rm = newest(events, "svc.v1.Tasks/Delete");
  CHECK(rm["principal"] == "token:ci");
  CHECK(rm["target"] == "ghost2");

  // The table a person reads.
  auto table = d.svctl({"audit"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("WHO") != std::string::npos);
  CHECK(table.out.find("Tasks/Stop") != std::string::npos);
  CHECK(table.out.find("NOT_FOUND") != std::string::npos);

  // --since and --limit.
  CHECK(audit(d, {"--limit", "2"}).size() == 2);
  CHECK(audit(d, {"--since", "1h"}).size() == 5);
  CHECK(audit(d, {"--since", "2099-01-01T00:00:00Z"}).empty());
  auto bad = d.svctl({"audit", "--since", "yesterday"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("--since yesterday") != std::string::npos);

  // REST reads the same log, on the socket only.
  auto rest = d.curl("GET", "/v1/audit");
  REQUIRE(rest.exit_code == 200);
  CHECK(json::parse(rest.out)["events"].size() == 5);
  auto over_tcp = run({svctl_path(), "--host", host, "--token", token, "audit"});
  CHECK(over_tcp.exit_code == 4);
  CHECK(over_tcp.err.find("unix socket") != std::string::npos);

  // Kept across a restart of svcd.
  REQUIRE(d.stop().value_or(-1) == 0);
  d.start();
  CHECK(audit(d).size() == 5);
}
