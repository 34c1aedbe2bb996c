// The services' store on a real SQLite file: the shared store suite, the spec's JSON form, and
// what survives a reopen.
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/store/service_store.hpp"
#include "tests/unit/scheduler/services/store_suite.hpp"

using namespace svc;
using namespace svc::daemon;
using namespace std::chrono_literals;

TEST_CASE("SqlServiceStore behaves as the store suite says", "[store][services]") {
  TempDir dir;
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlServiceStore services(*store);
  services::test::service_store_suite(services);
}

TEST_CASE("a service spec round-trips through its JSON form", "[store][services]") {
  services::ServiceSpec s = services::test::sample_service("api", 3).spec;
  s.entrypoint = {"/bin/app", "--serve"};
  s.args = {"-v"};
  s.reset_entrypoint = true;
  s.workdir = "/srv";
  s.user = "1000:1000";
  s.cpu_millis = 250;
  s.memory_bytes = 64ULL << 20;
  s.pids = 99;
  s.network = scheduler::NetworkMode::kBridge;
  s.scaling.target_utilization_percent = 55;
  s.scaling.stable_window = 30s;
  s.scaling.panic_window = 3s;
  s.scaling.panic_threshold_percent = 150;
  s.request_timeout = 20s;
  s.readiness_timeout = 5s;
  s.stop_grace = 2s;
  s.stop_signal = "SIGINT";
  s.queue_limit = 77;
  s.billing = "request";
  auto back = SqlServiceStore::spec_from_json(SqlServiceStore::spec_to_json(s));
  REQUIRE(back);
  CHECK(*back == s);
  auto bad = SqlServiceStore::spec_from_json("{\"image\": 1}");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Code::kDataLoss);
}

TEST_CASE("services, revisions and instances survive a reopen of svcd.db", "[store][services]") {
  TempDir dir;
  {
    auto store = Store::open(dir.path() / "svcd.db").value();
    SqlServiceStore services(*store);
    REQUIRE(services.put_service(services::test::sample_service("hello", 1)));
    services::Revision r;
    r.name = "hello-00001";
    r.service = "hello";
    r.number = 1;
    r.spec = services::test::sample_service("hello", 1).spec;
    REQUIRE(services.put_revision(r));
    auto again = services.put_revision(r);  // immutable: a second write is refused
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == Code::kAlreadyExists);
  }
  auto store = Store::open(dir.path() / "svcd.db").value();
  SqlServiceStore services(*store);
  auto c = services.load_all().value();
  REQUIRE(c.services.size() == 1);
  CHECK(c.services[0].spec.readiness_path == "/healthz");
  REQUIRE(c.revisions.size() == 1);
  CHECK(c.revisions[0].spec.scaling.max_instances == 9);
}
