// svc.v1.Services handlers over a fake ServiceBackend: what each message becomes, what comes
// back, and bad input refused before the backend hears of it.
#include <catch2/catch.hpp>

#include "api/server/services/service_service.hpp"
#include "svc/v1/services.pb.h"
#include "tests/unit/api/fake_backends.hpp"
#include "tests/unit/api/fake_service_backend.hpp"

using namespace svc;
using namespace svc::api;
using namespace svc::api::testing;
using namespace std::chrono_literals;
namespace svs = svc::services;

namespace {

struct Fixture {
  Dispatcher d;
  FakeServiceBackend backend;
  Fixture() { register_service_service(d, backend); }

  Result<v1::Service> deploy(const v1::DeployServiceRequest& req) {
    return call<v1::Service>(d, "svc.v1.Services/Deploy", req);
  }

  // A service with two revisions, one instance of each state, conditions and stats.
  svs::ServiceStatus& add_full(const std::string& name) {
    svs::ServiceStatus s;
    s.service.name = name;
    s.service.spec.name = name;
    s.service.spec.image = "127.0.0.1:5000/web:2";
    s.service.spec.env = {{"TOKEN", "secret"}};
    s.service.latest_revision = 2;
    s.service.serving_revision = name + "-00002";
    s.service.created_at = svs::TimePoint(std::chrono::seconds(1'700'000'000));
    s.service.updated_at = s.service.created_at + 10s;
    for (int n : {2, 1}) {
      svs::RevisionStatus r;
      r.revision.name = svs::revision_name(name, n);
      r.revision.service = name;
      r.revision.number = n;
      r.revision.spec = s.service.spec;
      r.revision.image_digest = "sha256:" + std::string(64, n == 2 ? 'b' : 'a');
      r.traffic_percent = n == 2 ? 100 : 0;
      r.desired = n == 2 ? 3 : 0;
      r.ready = n == 2 ? 2 : 0;
      r.starting = n == 2 ? 1 : 0;
      r.draining = n == 2 ? 0 : 1;
      r.panicking = n == 2;
      r.stable_concurrency = 1.5;
      r.panic_concurrency = 4.25;
      r.retired = n == 1;
      s.revisions.push_back(r);
    }
    auto inst = [&](const std::string& id, const std::string& rev, svs::InstanceState st) {
      svs::Instance i;
      i.id = id;
      i.service = name;
      i.revision = rev;
      i.state = st;
      i.pid = 4242;
      i.created_at = s.service.created_at;
      i.in_flight = 3;
      i.requests_total = 17;
      if (st == svs::InstanceState::kReady) i.ready_at = s.service.created_at + 5ms;
      if (st == svs::InstanceState::kDraining) {
        i.draining_at = s.service.updated_at;
        i.stop_reason = "Replaced";
        i.stop_message = "its revision web-00001 was replaced";
        i.adopted = true;
      }
      s.instances.push_back(i);
    };
    inst(name + "-00002-aaaaaaaa", name + "-00002", svs::InstanceState::kReady);
    inst(name + "-00002-bbbbbbbb", name + "-00002", svs::InstanceState::kStarting);
    inst(name + "-00001-cccccccc", name + "-00001", svs::InstanceState::kDraining);
    svs::Condition ready{"Ready", true, "Serving", "2 instance(s) ready", s.service.updated_at};
    svs::Condition cold{"ColdStart", false, "Crashed",
                        "last cold start of web-00002 failed: exited with code 3",
                        s.service.updated_at};
    s.conditions = {ready, cold};
    ingress::RequestRecord ok;
    ok.status = 200;
    ok.duration = 4ms;
    ok.cold_start = ingress::ColdStart{1ms, 5ms, 1ms, 2ms};
    ok.instance = name + "-00002-aaaaaaaa";
    ok.time = s.service.updated_at;
    s.stats.add(ok);
    ingress::RequestRecord bad = ok;
    bad.status = 502;
    bad.cold_start.reset();
    s.stats.add(bad);
    return backend.services[name] = s;
  }
};

}  // namespace

TEST_CASE("Deploy: the spec reaches the backend as the control plane's ServiceSpec",
          "[api][services]") {
  Fixture f;
  v1::DeployServiceRequest req;
  auto* s = req.mutable_spec();
  s->set_name("hello");
  s->set_image("127.0.0.1:5000/hello:1");
  s->set_port(9000);
  s->add_entrypoint("/bin/app");
  s->add_args("--serve");
  s->set_reset_entrypoint(true);
  (*s->mutable_env())["B"] = "2";
  (*s->mutable_env())["A"] = "secret";
  (*s->mutable_labels())["team"] = "web";
  s->set_workdir("/srv");
  s->set_user("1000");
  s->mutable_resources()->set_cpu_millis(250);
  s->mutable_resources()->set_memory_bytes(64 << 20);
  s->set_concurrency(10);
  s->set_min_instances(1);
  s->set_max_instances(50);
  s->mutable_idle_timeout()->set_seconds(2);
  s->mutable_request_timeout()->set_seconds(30);
  s->mutable_readiness()->set_http_path("/healthz");
  s->mutable_readiness()->mutable_timeout()->set_seconds(5);
  s->mutable_stop_grace_period()->set_seconds(3);
  s->set_stop_signal("SIGINT");
  s->set_network(v1::BRIDGE);
  s->set_queue_limit(2000);
  s->mutable_scaling()->set_target_utilization_percent(50);
  s->mutable_scaling()->mutable_stable_window()->set_seconds(30);
  s->mutable_scaling()->mutable_panic_window()->set_seconds(3);
  s->mutable_scaling()->set_panic_threshold_percent(300);

  auto out = f.deploy(req);
  REQUIRE(out);
  REQUIRE(f.backend.deployed.size() == 1);
  const svs::ServiceSpec& spec = f.backend.deployed[0];
  CHECK(spec.name == "hello");
  CHECK(spec.image == "127.0.0.1:5000/hello:1");
  CHECK(spec.port == 9000);
  CHECK(spec.entrypoint == std::vector<std::string>{"/bin/app"});
  CHECK(spec.args == std::vector<std::string>{"--serve"});
  CHECK(spec.reset_entrypoint);
  // Sorted by name: one form per intent, so an identical deploy compares equal.
  CHECK(spec.env == std::vector<std::pair<std::string, std::string>>{{"A", "secret"}, {"B", "2"}});
  CHECK(spec.labels.at("team") == "web");
  CHECK(spec.workdir == "/srv");
  CHECK(spec.user == "1000");
  CHECK(spec.cpu_millis == 250);
  CHECK(spec.memory_bytes == (64u << 20));
  CHECK(spec.network == scheduler::NetworkMode::kBridge);
  CHECK(spec.scaling.concurrency == 10);
  CHECK(spec.scaling.min_instances == 1);
  CHECK(spec.scaling.max_instances == 50);
  CHECK(spec.scaling.idle_timeout == 2s);
  CHECK(spec.scaling.target_utilization_percent == 50);
  CHECK(spec.scaling.stable_window == 30s);
  CHECK(spec.scaling.panic_window == 3s);
  CHECK(spec.scaling.panic_threshold_percent == 300);
  CHECK(spec.request_timeout == 30s);
  CHECK(spec.readiness_path == "/healthz");
  CHECK(spec.readiness_timeout == 5s);
  CHECK(spec.stop_grace == 3s);
  CHECK(spec.stop_signal == "SIGINT");
  CHECK(spec.queue_limit == 2000);

  // The answer: where it answers, what the deploy did, and env names without their values.
  CHECK(out->name() == "hello");
  CHECK(out->url() == "http://hello.localhost:8080/");
  CHECK(out->deploy_outcome() == v1::Service::CREATED);
  CHECK(out->latest_revision() == "hello-00001");
  CHECK(out->serving_revision() == "hello-00001");
  CHECK(out->spec().env().size() == 2);
  CHECK(out->spec().env().at("A").empty());
  CHECK(out->spec().idle_timeout().seconds() == 2);
  CHECK(out->spec().network() == v1::BRIDGE);

  f.backend.next_outcome = svs::DeployOutcome::kUnchanged;
  auto again = f.deploy(req);
  REQUIRE(again);
  CHECK(again->deploy_outcome() == v1::Service::UNCHANGED);
  CHECK(again->latest_revision() == "hello-00001");
  f.backend.next_outcome = svs::DeployOutcome::kUpdated;
  CHECK(f.deploy(req)->deploy_outcome() == v1::Service::UPDATED);
}

TEST_CASE("Deploy: unset fields stay 0 for the control plane's defaults", "[api][services]") {
  Fixture f;
  v1::DeployServiceRequest req;
  req.mutable_spec()->set_name("min");
  req.mutable_spec()->set_image("busybox");
  REQUIRE(f.deploy(req));
  const svs::ServiceSpec& spec = f.backend.deployed.at(0);
  CHECK(spec.port == 0);
  CHECK(spec.scaling.concurrency == 0);
  CHECK(spec.scaling.idle_timeout == 0ms);
  CHECK(spec.request_timeout == 0ms);
  CHECK(spec.stop_grace == 0ms);
  CHECK(spec.network == scheduler::NetworkMode::kPrivate);
  // --network none reaches the control plane and comes back as none (it was shown as private).
  req.mutable_spec()->set_network(v1::NONE);
  auto none = f.deploy(req);
  REQUIRE(none);
  CHECK(f.backend.deployed.back().network == scheduler::NetworkMode::kNone);
  CHECK(none->spec().network() == v1::NONE);
  req.mutable_spec()->clear_network();
  // An explicit 0 s grace period means "kill at once", not "the default".
  req.mutable_spec()->mutable_stop_grace_period()->set_seconds(0);
  REQUIRE(f.deploy(req));
  CHECK(f.backend.deployed.back().stop_grace == 1ms);
}

TEST_CASE("Deploy: bad input is INVALID_ARGUMENT naming the field, and nothing is deployed",
          "[api][services]") {
  Fixture f;
  auto refused = [&](const std::function<void(v1::ServiceSpec&)>& edit, const char* needle) {
    v1::DeployServiceRequest req;
    req.mutable_spec()->set_name("hello");
    req.mutable_spec()->set_image("busybox");
    edit(*req.mutable_spec());
    auto r = f.deploy(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK_THAT(r.error().message(), Catch::Contains(needle));
  };
  v1::DeployServiceRequest none;
  auto r = f.deploy(none);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kInvalidArgument);
  CHECK_THAT(r.error().message(), Catch::Contains("spec"));

  refused([](auto& s) { s.set_port(70000); }, "port 70000");
  refused([](auto& s) { s.set_port(-1); }, "port -1");
  refused([](auto& s) { s.mutable_resources()->set_cpu_millis(-1); }, "cpuMillis");
  refused([](auto& s) { s.mutable_resources()->set_memory_bytes(-1); }, "memoryBytes");
  refused([](auto& s) { s.set_concurrency(-3); }, "concurrency");
  refused([](auto& s) { s.mutable_idle_timeout()->set_seconds(-1); }, "idle timeout");
  refused([](auto& s) { s.mutable_idle_timeout()->set_seconds(0); }, "idle timeout: 0");
  refused([](auto& s) { s.mutable_request_timeout()->set_nanos(-5); }, "request timeout");
  refused([](auto& s) { s.mutable_readiness()->mutable_timeout()->set_seconds(-2); },
          "readiness timeout");
  refused([](auto& s) { s.mutable_stop_grace_period()->set_seconds(-1); }, "spec.stopGracePeriod");
  refused([](auto& s) { s.mutable_scaling()->mutable_stable_window()->set_seconds(-60); },
          "stable window");
  refused([](auto& s) { s.mutable_scaling()->set_target_utilization_percent(-1); },
          "target utilization");
  refused([](auto& s) { s.mutable_scaling()->set_panic_threshold_percent(-1); }, "panic threshold");
  refused([](auto& s) { s.set_queue_limit(-1); }, "queue limit");
  refused([](auto& s) { s.set_network(static_cast<v1::NetworkMode>(42)); }, "spec.network");
  CHECK(f.backend.deployed.empty());
}

TEST_CASE("Get: revisions, instances, conditions and stats reach the message", "[api][services]") {
  Fixture f;
  f.add_full("web");
  v1::GetServiceRequest req;
  req.set_name("web");
  auto out = call<v1::Service>(f.d, "svc.v1.Services/Get", req);
  REQUIRE(out);
  CHECK(out->url() == "http://web.localhost:8080/");
  CHECK(out->revision() == 2);
  CHECK(out->serving_revision() == "web-00002");
  CHECK(out->image_digest() == "sha256:" + std::string(64, 'b'));
  CHECK(out->desired_instances() == 3);
  CHECK(out->spec().env().at("TOKEN").empty());
  REQUIRE(out->revisions_size() == 2);
  const v1::Revision& r2 = out->revisions(0);
  CHECK(r2.name() == "web-00002");
  CHECK(r2.number() == 2);
  CHECK(r2.traffic_percent() == 100);
  CHECK(r2.ready_instances() == 2);
  CHECK(r2.starting_instances() == 1);
  CHECK(r2.panicking());
  CHECK(r2.panic_concurrency() == Approx(4.25));
  CHECK(r2.spec().env().at("TOKEN").empty());
  CHECK(out->revisions(1).retired());
  CHECK(out->revisions(1).draining_instances() == 1);

  REQUIRE(out->instances_size() == 3);
  CHECK(out->instances(0).state() == v1::Instance::READY);
  CHECK(out->instances(0).revision() == 2);
  CHECK(out->instances(0).revision_name() == "web-00002");
  CHECK(out->instances(0).in_flight() == 3);
  CHECK(out->instances(0).requests_total() == 17);
  CHECK(out->instances(0).pid() == 4242);
  CHECK(out->instances(0).has_ready_at());
  CHECK(out->instances(1).state() == v1::Instance::STARTING);
  CHECK_FALSE(out->instances(1).has_ready_at());
  const v1::Instance& leaving = out->instances(2);
  CHECK(leaving.state() == v1::Instance::DRAINING);
  CHECK(leaving.stop_reason() == "Replaced");
  CHECK(leaving.adopted());
  CHECK(leaving.has_draining_at());

  REQUIRE(out->conditions_size() == 2);
  CHECK(out->conditions(0).type() == "Ready");
  CHECK(out->conditions(0).status());
  CHECK(out->conditions(1).reason() == "Crashed");
  CHECK_FALSE(out->conditions(1).status());
  CHECK_THAT(out->conditions(1).message(), Catch::Contains("exited with code 3"));

  const v1::ServiceStats& st = out->stats();
  CHECK(st.requests_total() == 2);
  CHECK(st.requests_by_class().at("2xx") == 1);
  CHECK(st.requests_by_class().at("5xx") == 1);
  CHECK(st.requests_by_class().count("4xx") == 0);
  CHECK(st.latency().count() == 2);
  CHECK(st.cold_starts().count() == 1);
  CHECK(st.cold_starts().last_instance() == "web-00002-aaaaaaaa");
  CHECK(st.cold_starts().last_sandbox().nanos() == 5'000'000);
  CHECK(st.cold_starts().sandbox().count() == 1);

  v1::GetServiceRequest missing;
  missing.set_name("nope");
  auto nf = call<v1::Service>(f.d, "svc.v1.Services/Get", missing);
  REQUIRE_FALSE(nf);
  CHECK(nf.error().code() == Code::kNotFound);
  v1::GetServiceRequest empty;
  CHECK(call<v1::Service>(f.d, "svc.v1.Services/Get", empty).error().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("List sorts by name, ListInstances lists what exists, Delete removes",
          "[api][services]") {
  Fixture f;
  f.add_full("zeta");
  f.add_full("alpha");
  auto list =
      call<v1::ListServicesResponse>(f.d, "svc.v1.Services/List", v1::ListServicesRequest{});
  REQUIRE(list);
  REQUIRE(list->services_size() == 2);
  CHECK(list->services(0).name() == "alpha");
  CHECK(list->services(1).name() == "zeta");
  CHECK(list->services(1).url() == "http://zeta.localhost:8080/");

  v1::ListInstancesRequest li;
  li.set_name("alpha");
  auto inst = call<v1::ListInstancesResponse>(f.d, "svc.v1.Services/ListInstances", li);
  REQUIRE(inst);
  CHECK(inst->instances_size() == 3);
  li.set_name("gone");
  CHECK(call<v1::ListInstancesResponse>(f.d, "svc.v1.Services/ListInstances", li).error().code() ==
        Code::kNotFound);

  v1::DeleteServiceRequest del;
  del.set_name("alpha");
  REQUIRE(call<v1::DeleteServiceResponse>(f.d, "svc.v1.Services/Delete", del));
  CHECK(f.backend.removed == std::vector<std::string>{"alpha"});
  auto again = call<v1::DeleteServiceResponse>(f.d, "svc.v1.Services/Delete", del);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Code::kNotFound);

  // The ingress off: no URL to print.
  f.backend.url_base.clear();
  v1::GetServiceRequest get;
  get.set_name("zeta");
  CHECK(call<v1::Service>(f.d, "svc.v1.Services/Get", get)->url().empty());
}

TEST_CASE("Logs: output and request lines, invalid UTF-8 replaced, the query passed on",
          "[api][services]") {
  Fixture f;
  f.add_full("web");
  ServiceLogLine out;
  out.time = svs::TimePoint(std::chrono::milliseconds(1'700'000'000'250));
  out.instance = "web-00002-aaaaaaaa";
  out.text = "listening \xff";
  ServiceLogLine err = out;
  err.kind = ServiceLogLine::Kind::kStderr;
  err.text = "warn";
  err.partial = true;
  ServiceLogLine req = out;
  req.kind = ServiceLogLine::Kind::kRequest;
  req.text = "GET / 200 3ms web-00002-aaaaaaaa";
  ingress::RequestRecord rec;
  rec.method = "GET";
  rec.path = "/caf\xc3";
  rec.status = 200;
  rec.duration = 3ms;
  rec.revision = "web-00002";
  rec.instance = "web-00002-aaaaaaaa";
  rec.request_bytes = 10;
  rec.response_bytes = 20;
  rec.client = "127.0.0.1:4000";
  rec.cold_start = ingress::ColdStart{};
  req.request = rec;
  f.backend.lines = {out, err, req};

  v1::ServiceLogsRequest q;
  q.set_name("web");
  q.set_follow(true);
  q.set_tail(7);
  q.set_no_requests(true);
  q.mutable_since()->set_seconds(1'700'000'000);
  auto got = call_stream<v1::ServiceLogEntry>(f.d, "svc.v1.Services/Logs", q);
  REQUIRE(got);
  REQUIRE(got->size() == 3);
  CHECK((*got)[0].kind() == v1::ServiceLogEntry::STDOUT);
  CHECK((*got)[0].text() == "listening \xEF\xBF\xBD");
  CHECK((*got)[0].instance() == "web-00002-aaaaaaaa");
  CHECK((*got)[0].time().nanos() == 250'000'000);
  CHECK((*got)[1].kind() == v1::ServiceLogEntry::STDERR);
  CHECK((*got)[1].partial());
  const v1::ServiceLogEntry& r = (*got)[2];
  CHECK(r.kind() == v1::ServiceLogEntry::REQUEST);
  CHECK(r.request().status() == 200);
  CHECK(r.request().path() == "/caf\xEF\xBF\xBD");
  CHECK(r.request().latency().nanos() == 3'000'000);
  CHECK(r.request().response_bytes() == 20);
  CHECK(r.request().cold_start());
  CHECK(f.backend.last_query.follow);
  CHECK(f.backend.last_query.tail == 7);
  CHECK_FALSE(f.backend.last_query.requests);
  REQUIRE(f.backend.last_query.since);
  CHECK(*f.backend.last_query.since == svs::TimePoint(std::chrono::seconds(1'700'000'000)));

  // The client going away after one line ends the stream there.
  auto one = call_stream<v1::ServiceLogEntry>(f.d, "svc.v1.Services/Logs", q, 1);
  REQUIRE(one);
  CHECK(one->size() == 1);

  q.set_tail(-1);
  CHECK(call_stream<v1::ServiceLogEntry>(f.d, "svc.v1.Services/Logs", q).error().code() ==
        Code::kInvalidArgument);
  q.set_tail(0);
  q.set_name("nope");
  CHECK(call_stream<v1::ServiceLogEntry>(f.d, "svc.v1.Services/Logs", q).error().code() ==
        Code::kNotFound);
}
