// The REST reference as a user of the API meets it: svcd serves /v1/openapi.json, kin-openapi
// (tests/tools/openapi_check, Debian's golang-github-getkin-kin-openapi-dev) finds it valid
// OpenAPI 3.0, and svcd's real answers on the list and get routes, with tasks, a service, an
// image and a schedule in them, fit the document's schemas exactly. Root only.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tests/e2e/service_helpers.hpp"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::test;
using namespace svc::test::services;
using namespace std::chrono_literals;

TEST_CASE("REST: svcd's answers fit its OpenAPI document, judged by kin-openapi",
          "[e2e][openapi]") {
  SERVICES_REQUIRE_ROOT();
  const std::string checker = SVC_OPENAPI_CHECK;
  if (checker.empty() || !std::filesystem::exists(checker))
    SVC_SKIP("no openapi_check: needs golang-go and golang-github-getkin-kin-openapi-dev");
  auto daemon = start_daemon();
  DaemonFixture& d = *daemon;

  // Something in every list: a running and a finished task, a service that served, a schedule.
  REQUIRE(d.svctl({"run", "-d", "--name", "sleeper", "--label", "team=api", images().busybox,
                   "--", "sleep", "300"}, 120s)
              .exit_code == 0);
  REQUIRE(d.svctl({"run", "--name", "done", images().busybox, "--", "true"}, 120s).exit_code == 0);
  deploy(d, {"hello", images().httpd});
  REQUIRE(get(d.service_url("hello")).status == 200);
  REQUIRE(d.svctl({"schedule", "create", "nightly", "--cron", "0 3 * * *", images().busybox, "--",
                   "true"})
              .exit_code == 0);
  auto images_json = json::parse(d.svctl({"images", "-o", "json"}).out);
  std::string image = images_json["images"][0]["references"][0];
  std::string encoded;
  for (char c : image) encoded += c == '/' ? std::string("%2F") : std::string(1, c);

  const std::vector<std::string> paths = {
      "/v1/node",
      "/v1/tasks",
      "/v1/tasks?all=true&labels=team%3Dapi",
      "/v1/tasks/sleeper",
      "/v1/tasks/done",
      "/v1/tasks/nosuchtask",  // a 404 fits the error schema
      "/v1/images",
      "/v1/images/" + encoded,
      "/v1/services",
      "/v1/services/hello",
      "/v1/services/hello/instances",
      "/v1/usage",
      "/v1/usage?groupBy=SERVICE",
      "/v1/usage?groupBy=DAY",
      "/v1/usage/records",
      "/v1/schedules",
      "/v1/schedules/nightly",
      "/v1/audit",
      "/v1/tokens",
  };
  std::vector<std::string> argv = {checker, d.socket().string()};
  argv.insert(argv.end(), paths.begin(), paths.end());
  auto checked = run(argv, 60s);
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.out.find("valid") != std::string::npos);
  for (const auto& p : paths) CHECK(checked.out.find("GET " + p + ":") != std::string::npos);

  // The judge can fail: the same answers against a document that lost one field of Task.
  auto served = d.curl("GET", "/v1/openapi.json");
  REQUIRE(served.exit_code == 200);
  json doc = json::parse(served.out);
  REQUIRE(doc["components"]["schemas"]["svc.v1.Task"]["properties"].erase("pid") == 1);
  auto broken = d.dir() / "broken-openapi.json";
  std::ofstream(broken) << doc.dump();
  auto refused = run({checker, d.socket().string(), "/v1/tasks/sleeper"}, 60s,
                     {{"OPENAPI_CHECK_DOC", broken.string()}});
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("\"pid\" is unsupported") != std::string::npos);
}
