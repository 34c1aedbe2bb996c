#include <catch2/catch.hpp>

#include "api/server/rest_routes.hpp"
#include "svc/v1/images.pb.h"
#include "svc/v1/tasks.pb.h"

using namespace svc;
using namespace svc::api;

TEST_CASE("every REST route names a method of the protos", "[rest]") {
  Dispatcher d;
  for (const auto& r : rest_routes()) {
    INFO(r.rpc);
    CHECK(d.find(r.rpc) != nullptr);
  }
}

TEST_CASE("routes match paths, variables and custom verbs", "[rest]") {
  Dispatcher d;
  RestRouter router(d);
  auto m = router.match("GET", "/v1/tasks/abc123").value();
  CHECK(m.method->full_name == "svc.v1.Tasks/Get");
  CHECK(m.path_params.at(0) == std::make_pair(std::string("id"), std::string("abc123")));
  CHECK(router.match("POST", "/v1/tasks/abc:stop").value().method->full_name ==
        "svc.v1.Tasks/Stop");
  CHECK(router.match("GET", "/v1/tasks/abc/logs").value().method->full_name == "svc.v1.Tasks/Logs");
  CHECK(router.match("POST", "/v1/images:pull").value().method->full_name == "svc.v1.Images/Pull");
  auto img = router.match("GET", "/v1/images/docker.io/library/alpine:3").value();
  CHECK(img.method->full_name == "svc.v1.Images/Get");
  CHECK(img.path_params.at(0).second == "docker.io/library/alpine:3");
  auto enc = router.match("DELETE", "/v1/images/127.0.0.1%3A5000%2Fapp").value();
  CHECK(enc.path_params.at(0).second == "127.0.0.1:5000/app");
}

TEST_CASE("unknown paths are 404s and wrong methods 405s", "[rest]") {
  Dispatcher d;
  RestRouter router(d);
  CHECK(router.match("GET", "/v1/nothing").error().code() == Code::kNotFound);
  CHECK(router.match("GET", "/v1/tasks/a:explode").error().code() == Code::kNotFound);
  auto wrong = router.match("PUT", "/v1/tasks/abc");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code() == Code::kUnimplemented);
  CHECK(wrong.error().message().find("allowed: GET, DELETE") != std::string::npos);
  CHECK(router.allowed_methods("/v1/tasks/abc") == "GET, DELETE");
}

TEST_CASE("query parameters, path variables and body fill one request", "[rest]") {
  Dispatcher d;
  RestRouter router(d);
  auto list = router.match("GET", "/v1/tasks").value();
  auto req =
      router
          .build_request(list, "all=true&states=running,stopped&labels=team%3Dweb&page_size=5", "")
          .value();
  auto& l = static_cast<v1::ListTasksRequest&>(*req);
  CHECK(l.all());
  REQUIRE(l.states_size() == 2);
  CHECK(l.states(0) == v1::Task::RUNNING);
  CHECK(l.states(1) == v1::Task::STOPPED);
  CHECK(l.labels().at("team") == "web");
  CHECK(l.page_size() == 5);

  auto stop = router.match("POST", "/v1/tasks/t1:stop").value();
  auto sreq =
      router.build_request(stop, "", R"({"id":"other","signal":"SIGINT","gracePeriod":"3s"})")
          .value();
  auto& s = static_cast<v1::StopTaskRequest&>(*sreq);
  CHECK(s.id() == "t1");  // the path wins over the body
  CHECK(s.signal() == "SIGINT");
  CHECK(s.grace_period().seconds() == 3);

  auto logs = router.match("GET", "/v1/tasks/t1/logs").value();
  auto lreq = router.build_request(logs, "follow&tail=10&since=2026-11-22T10:00:00Z", "").value();
  auto& lg = static_cast<v1::TaskLogsRequest&>(*lreq);
  CHECK(lg.follow());
  CHECK(lg.tail() == 10);
  CHECK(lg.since().seconds() > 0);
}

TEST_CASE("bad REST input is INVALID_ARGUMENT naming what is wrong", "[rest]") {
  Dispatcher d;
  RestRouter router(d);
  auto list = router.match("GET", "/v1/tasks").value();
  auto r1 = router.build_request(list, "colour=red", "");
  CHECK(r1.error().message().find("\"colour\"") != std::string::npos);
  auto r2 = router.build_request(list, "states=flying", "");
  CHECK(r2.error().message().find("flying") != std::string::npos);
  auto r3 = router.build_request(list, "page_size=many", "");
  CHECK(r3.error().code() == Code::kInvalidArgument);
  auto r4 = router.build_request(list, "", "{\"all\":true}");
  CHECK(r4.error().message().find("takes no request body") != std::string::npos);
  auto run = router.match("POST", "/v1/tasks").value();
  auto r5 = router.build_request(run, "", R"({"spec":{"image":"x","bogus":1}})");
  CHECK(r5.error().code() == Code::kInvalidArgument);
  CHECK(r5.error().message().find("bogus") != std::string::npos);
  auto r6 = router.build_request(run, "", R"({"spec":{"image":5}})");
  CHECK(r6.error().code() == Code::kInvalidArgument);
  auto r7 = router.build_request(run, "", "{not json");
  CHECK(r7.error().code() == Code::kInvalidArgument);
  CHECK_FALSE(percent_decode("%zz", false));
  CHECK_FALSE(percent_decode("%4", false));
  CHECK(percent_decode("a%20b+c", true).value() == "a b c");
}
