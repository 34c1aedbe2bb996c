#include <catch2/catch.hpp>

#include <mutex>

#include "api/server/services/audit_service.hpp"
#include "api/server/services/proto_time.hpp"
#include "api/server/status.hpp"
#include "fake_backends.hpp"
#include "svc/v1/audit.pb.h"
#include "svc/v1/images.pb.h"
#include "svc/v1/node.pb.h"
#include "svc/v1/tasks.pb.h"
#include "svc/v1/tokens.pb.h"

using namespace svc;
using namespace svc::api;
using svc::api::testing::call;

namespace {

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(t.time_since_epoch());
  }
  std::chrono::system_clock::time_point t = from_unix_millis(1'800'000'000'000);
};

// Keeps records in memory, newest last; list() filters and orders as the store does.
class MemoryAuditBackend final : public AuditBackend {
 public:
  Result<> append(const AuditRecord& record) override {
    std::lock_guard lock(mu);
    if (fail_appends) return fail(Code::kInternal, "disk full");
    records.push_back(record);
    records.back().id = static_cast<std::int64_t>(records.size());
    return {};
  }
  Result<std::vector<AuditRecord>> list(std::optional<std::chrono::system_clock::time_point> since,
                                        int limit) override {
    std::lock_guard lock(mu);
    last_limit = limit;
    std::vector<AuditRecord> out;
    for (auto it = records.rbegin(); it != records.rend() && static_cast<int>(out.size()) < limit;
         ++it)
      if (!since || it->at >= *since) out.push_back(*it);
    return out;
  }
  std::mutex mu;
  std::vector<AuditRecord> records;
  bool fail_appends = false;
  int last_limit = 0;
};

CallContext unix_ctx(std::string principal = "uid:1000") {
  CallContext c;
  c.transport = CallContext::Transport::kUnix;
  c.principal = std::move(principal);
  return c;
}

CallContext tcp_ctx(std::string principal, std::string peer = "127.0.0.1:40000") {
  CallContext c;
  c.transport = CallContext::Transport::kTcp;
  c.principal = std::move(principal);
  c.peer = std::move(peer);
  return c;
}

struct Fixture {
  Fixture() {
    d.unary<v1::StopTaskRequest, v1::Task>(
        "svc.v1.Tasks/Stop",
        [](const v1::StopTaskRequest& req, v1::Task& resp, CallContext&) -> Result<> {
          if (req.id() == "ghost") return fail(Code::kNotFound, "no task ghost");
          resp.set_id(req.id());
          return {};
        });
    d.unary<v1::RunTaskRequest, v1::Task>(
        "svc.v1.Tasks/Run",
        [](const v1::RunTaskRequest&, v1::Task&, CallContext&) -> Result<> { return {}; });
    d.unary<v1::GetTaskRequest, v1::Task>(
        "svc.v1.Tasks/Get",
        [](const v1::GetTaskRequest&, v1::Task&, CallContext&) -> Result<> { return {}; });
    d.unary<v1::NodeInfoRequest, v1::NodeInfo>(
        "svc.v1.Node/Info",
        [](const v1::NodeInfoRequest&, v1::NodeInfo&, CallContext&) -> Result<> { return {}; });
    register_audit_service(d, backend, clock);
  }
  Dispatcher d;
  MemoryAuditBackend backend;
  FixedClock clock;
};

}  // namespace

TEST_CASE("reads are not audited, every other method is", "[audit]") {
  Dispatcher d;
  std::vector<std::string> audited;
  for (const auto& name : d.method_names())
    if (is_mutating(*d.find(name))) audited.push_back(name);
  for (const char* read :
       {"svc.v1.Tasks/List", "svc.v1.Tasks/Get", "svc.v1.Tasks/Logs", "svc.v1.Tasks/Wait",
        "svc.v1.Tasks/Events", "svc.v1.Node/Info", "svc.v1.Usage/Query", "svc.v1.Audit/List",
        "svc.v1.Tokens/List", "svc.v1.Images/Get"}) {
    INFO(read);
    CHECK_FALSE(is_mutating(*d.find(read)));
  }
  for (const char* change :
       {"svc.v1.Tasks/Run", "svc.v1.Tasks/Stop", "svc.v1.Tasks/Delete", "svc.v1.Images/Pull",
        "svc.v1.Images/Remove", "svc.v1.Images/Import", "svc.v1.Images/Prune",
        "svc.v1.Services/Deploy", "svc.v1.Services/Delete", "svc.v1.Tokens/Create",
        "svc.v1.Tokens/Revoke", "svc.v1.Triggers/Fire", "svc.v1.Schedules/Create"}) {
    INFO(change);
    CHECK(is_mutating(*d.find(change)));
  }
}

TEST_CASE("the target is what the request names", "[audit]") {
  v1::StopTaskRequest stop;
  stop.set_id("t-123");
  CHECK(call_target(stop) == "t-123");

  v1::RunTaskRequest run;
  run.mutable_spec()->set_image("alpine:3");
  CHECK(call_target(run) == "alpine:3");
  run.mutable_spec()->set_name("web");
  CHECK(call_target(run) == "web");

  v1::PullImageRequest pull;
  pull.set_reference("127.0.0.1:5000/app:1");
  CHECK(call_target(pull) == "127.0.0.1:5000/app:1");

  v1::ImportImageRequest import;
  import.set_path("/tmp/demo");
  CHECK(call_target(import) == "/tmp/demo");

  CHECK(call_target(v1::PruneImagesRequest()).empty());
}

TEST_CASE("the principal says who: uid, token or certificate", "[audit]") {
  CHECK(principal_of(unix_ctx("uid:0")) == "uid:0");
  CHECK(principal_of(unix_ctx("unix")) == "unix");
  CHECK(principal_of(tcp_ctx("ci")) == "token:ci");
  CHECK(principal_of(tcp_ctx("cert:CN=ops")) == "cert:CN=ops");
  CHECK(principal_of(CallContext{}) == "in-process");
}

TEST_CASE("a mutating call is recorded with who, what, when and how it ended", "[audit]") {
  Fixture f;
  v1::StopTaskRequest req;
  req.set_id("t-1");
  REQUIRE(call<v1::Task>(f.d, "svc.v1.Tasks/Stop", req, unix_ctx("uid:1000")));
  req.set_id("ghost");
  auto r = call<v1::Task>(f.d, "svc.v1.Tasks/Stop", req, tcp_ctx("ci", "127.0.0.1:5555"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kNotFound);  // the observer does not change the result

  REQUIRE(f.backend.records.size() == 2);
  const auto& ok = f.backend.records[0];
  CHECK(ok.at == f.clock.t);
  CHECK(ok.principal == "uid:1000");
  CHECK(ok.transport == "unix");
  CHECK(ok.peer.empty());
  CHECK(ok.method == "svc.v1.Tasks/Stop");
  CHECK(ok.target == "t-1");
  CHECK(ok.code == "OK");
  CHECK(ok.message.empty());

  const auto& failed = f.backend.records[1];
  CHECK(failed.principal == "token:ci");
  CHECK(failed.transport == "tcp");
  CHECK(failed.peer == "127.0.0.1:5555");
  CHECK(failed.target == "ghost");
  CHECK(failed.code == "NOT_FOUND");
  CHECK(failed.message == "no task ghost");
}

TEST_CASE("reads leave no record, and a change this svcd cannot make yet does", "[audit]") {
  Fixture f;
  REQUIRE(call<v1::Task>(f.d, "svc.v1.Tasks/Get", v1::GetTaskRequest(), unix_ctx()));
  REQUIRE(call<v1::NodeInfo>(f.d, "svc.v1.Node/Info", v1::NodeInfoRequest(), unix_ctx()));
  CHECK(f.backend.records.empty());

  // A change this svcd cannot make yet is still an attempt worth recording.
  auto r = call<v1::Task>(f.d, "svc.v1.Tasks/Delete", v1::DeleteTaskRequest(), unix_ctx());
  REQUIRE_FALSE(r);
  REQUIRE(f.backend.records.size() == 1);
  CHECK(f.backend.records[0].code == "UNIMPLEMENTED");
}

TEST_CASE("a failed append never fails the call", "[audit]") {
  Fixture f;
  f.backend.fail_appends = true;
  v1::StopTaskRequest req;
  req.set_id("t-1");
  CHECK(call<v1::Task>(f.d, "svc.v1.Tasks/Stop", req, unix_ctx()));
}

TEST_CASE("Audit.List reads the log back, newest first, since a time", "[audit]") {
  Fixture f;
  v1::StopTaskRequest req;
  for (const char* id : {"a", "b", "c"}) {
    req.set_id(id);
    REQUIRE(call<v1::Task>(f.d, "svc.v1.Tasks/Stop", req, unix_ctx()));
    f.clock.t += std::chrono::minutes(1);
  }
  auto all =
      call<v1::ListAuditResponse>(f.d, "svc.v1.Audit/List", v1::ListAuditRequest(), unix_ctx());
  REQUIRE(all);
  REQUIRE(all->events_size() == 3);
  CHECK(all->events(0).target() == "c");
  CHECK(all->events(2).target() == "a");
  CHECK(all->events(0).method() == "svc.v1.Tasks/Stop");
  CHECK(all->events(0).principal() == "uid:1000");
  CHECK(all->events(0).code() == "OK");
  CHECK(f.backend.last_limit == 1000);  // the default limit
  // Listing is a read: it added nothing.
  CHECK(f.backend.records.size() == 3);

  v1::ListAuditRequest since;
  *since.mutable_since() = to_timestamp(from_unix_millis(1'800'000'000'000 + 60'000));
  since.set_limit(5);
  auto recent = call<v1::ListAuditResponse>(f.d, "svc.v1.Audit/List", since, unix_ctx());
  REQUIRE(recent);
  REQUIRE(recent->events_size() == 2);
  CHECK(recent->events(1).target() == "b");
  CHECK(f.backend.last_limit == 5);
}

TEST_CASE("Audit.List is refused over TCP and with a bad limit", "[audit]") {
  Fixture f;
  auto tcp =
      call<v1::ListAuditResponse>(f.d, "svc.v1.Audit/List", v1::ListAuditRequest(), tcp_ctx("ci"));
  REQUIRE_FALSE(tcp);
  CHECK(tcp.error().code() == Code::kPermissionDenied);
  CHECK(tcp.error().message().find("unix socket") != std::string::npos);

  v1::ListAuditRequest bad;
  bad.set_limit(-1);
  auto r = call<v1::ListAuditResponse>(f.d, "svc.v1.Audit/List", bad, unix_ctx());
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kInvalidArgument);
  CHECK(r.error().message().find("limit") != std::string::npos);
}

TEST_CASE("the token's secret never reaches the log", "[audit]") {
  Fixture f;
  f.d.unary<v1::CreateTokenRequest, v1::CreateTokenResponse>(
      "svc.v1.Tokens/Create",
      [](const v1::CreateTokenRequest& req, v1::CreateTokenResponse& resp,
         CallContext&) -> Result<> {
        resp.mutable_info()->set_name(req.name());
        resp.set_token("svc_abc_SECRET");
        return {};
      });
  v1::CreateTokenRequest req;
  req.set_name("ci");
  REQUIRE(call<v1::CreateTokenResponse>(f.d, "svc.v1.Tokens/Create", req, unix_ctx()));
  REQUIRE(f.backend.records.size() == 1);
  const auto& r = f.backend.records[0];
  CHECK(r.target == "ci");
  for (const auto& field : {r.principal, r.transport, r.peer, r.method, r.target, r.message})
    CHECK(field.find("SECRET") == std::string::npos);
}
