#include <catch2/catch.hpp>

#include "api/json.hpp"
#include "api/server/dispatcher.hpp"
#include "api/server/status.hpp"
#include "svc/v1/node.pb.h"
#include "svc/v1/tasks.pb.h"

using namespace svc;
using namespace svc::api;

TEST_CASE("every method of the protos is in the table", "[dispatcher]") {
  Dispatcher d;
  for (const char* name :
       {"svc.v1.Node/Info", "svc.v1.Tasks/Run", "svc.v1.Tasks/Logs", "svc.v1.Images/Pull",
        "svc.v1.Services/Deploy", "svc.v1.Usage/Query", "svc.v1.Schedules/Create",
        "svc.v1.Triggers/Fire", "svc.v1.Tokens/Create"}) {
    INFO(name);
    CHECK(d.find(name) != nullptr);
  }
  CHECK(d.find("/svc.v1.Node/Info") != nullptr);
  CHECK(d.find("svc.v1.Node/Nope") == nullptr);
  CHECK(d.find("svc.v1.Tasks/Logs")->server_streaming);
}

TEST_CASE("a method without a handler answers UNIMPLEMENTED with its name", "[dispatcher]") {
  Dispatcher d;
  const auto* m = d.find("svc.v1.Services/Deploy");
  auto req = d.new_request(*m);
  auto resp = d.new_response(*m);
  CallContext ctx;
  auto r = d.call_unary(*m, *req, *resp, ctx);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kUnimplemented);
  CHECK(r.error().message().find("svc.v1.Services/Deploy") != std::string::npos);
}

TEST_CASE("handlers run, and exceptions become INTERNAL errors", "[dispatcher]") {
  Dispatcher d;
  d.unary<v1::NodeInfoRequest, v1::NodeInfo>(
      "svc.v1.Node/Info",
      [](const v1::NodeInfoRequest&, v1::NodeInfo& out, CallContext&) -> Result<> {
        out.set_hostname("h");
        return {};
      });
  d.unary<v1::GetTaskRequest, v1::Task>(
      "svc.v1.Tasks/Get", [](const v1::GetTaskRequest&, v1::Task&, CallContext&) -> Result<> {
        throw std::runtime_error("boom");
      });
  CallContext ctx;
  v1::NodeInfo info;
  REQUIRE(d.call_unary(*d.find("svc.v1.Node/Info"), v1::NodeInfoRequest(), info, ctx));
  CHECK(info.hostname() == "h");
  v1::Task task;
  auto r = d.call_unary(*d.find("svc.v1.Tasks/Get"), v1::GetTaskRequest(), task, ctx);
  CHECK(r.error().code() == Code::kInternal);
  CHECK(r.error().message().find("boom") != std::string::npos);
  CHECK_THROWS(d.unary<v1::TaskLogsRequest, v1::LogEntry>(
      "svc.v1.Tasks/Logs",
      [](const v1::TaskLogsRequest&, v1::LogEntry&, CallContext&) -> Result<> { return {}; }));
}

TEST_CASE("every call is counted by method and code, and timed", "[dispatcher][metrics]") {
  Dispatcher d;
  metrics::Registry registry;
  d.set_metrics(registry);
  d.unary<v1::NodeInfoRequest, v1::NodeInfo>(
      "svc.v1.Node/Info",
      [](const v1::NodeInfoRequest&, v1::NodeInfo&, CallContext&) -> Result<> { return {}; });
  d.unary<v1::GetTaskRequest, v1::Task>(
      "svc.v1.Tasks/Get", [](const v1::GetTaskRequest&, v1::Task&, CallContext&) -> Result<> {
        return fail(Code::kNotFound, "no task");
      });
  CallContext ctx;
  v1::NodeInfo info;
  v1::Task task;
  for (int i = 0; i < 3; ++i)
    REQUIRE(d.call_unary(*d.find("svc.v1.Node/Info"), v1::NodeInfoRequest(), info, ctx));
  CHECK_FALSE(d.call_unary(*d.find("svc.v1.Tasks/Get"), v1::GetTaskRequest(), task, ctx));
  const auto* deploy = d.find("svc.v1.Services/Deploy");
  auto req = d.new_request(*deploy);
  auto resp = d.new_response(*deploy);
  CHECK_FALSE(d.call_unary(*deploy, *req, *resp, ctx));
  std::string text = registry.render();
  CHECK(text.find("svc_api_requests_total{method=\"svc.v1.Node/Info\",code=\"OK\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("svc_api_requests_total{method=\"svc.v1.Tasks/Get\",code=\"NOT_FOUND\"} 1\n") !=
        std::string::npos);
  CHECK(
      text.find("svc_api_requests_total{method=\"svc.v1.Services/Deploy\",code=\"UNIMPLEMENTED\"} "
                "1\n") != std::string::npos);
  CHECK(text.find("svc_api_request_duration_seconds_count{method=\"svc.v1.Node/Info\"} 3\n") !=
        std::string::npos);
}

TEST_CASE("status codes map to gRPC and HTTP as google.rpc.Code does", "[status]") {
  CHECK(to_grpc_code(Code::kNotFound) == grpc::StatusCode::NOT_FOUND);
  CHECK(to_grpc_code(Code::kUnauthenticated) == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(from_grpc_code(grpc::StatusCode::DATA_LOSS) == Code::kDataLoss);
  CHECK(http_status(Code::kInvalidArgument) == 400);
  CHECK(http_status(Code::kNotFound) == 404);
  CHECK(http_status(Code::kAlreadyExists) == 409);
  CHECK(http_status(Code::kUnimplemented) == 501);
  CHECK(http_status(Code::kUnauthenticated) == 401);
  CHECK(http_status(Code::kResourceExhausted) == 429);
  CHECK(http_status(Code::kUnavailable) == 503);
}

TEST_CASE("JSON uses camelCase, prints zero values and omits unset optionals", "[json]") {
  v1::Task t;
  t.set_id("abc");
  t.set_state(v1::Task::RUNNING);
  std::string j = to_json(t);
  CHECK(j.find("\"state\":\"RUNNING\"") != std::string::npos);
  CHECK(j.find("\"stopReason\":\"\"") != std::string::npos);
  CHECK(j.find("exitCode") == std::string::npos);
  t.set_exit_code(0);
  CHECK(to_json(t).find("\"exitCode\":0") != std::string::npos);
  CHECK(error_json(Error(Code::kNotFound, "no task \"x\"")) ==
        R"({"code":"NOT_FOUND","message":"no task \"x\""})");
}
