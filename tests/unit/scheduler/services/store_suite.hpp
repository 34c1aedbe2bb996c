#pragma once
// The behaviour every services::ServiceStore must have, run against the fake (controller
// tests) and the real one on SQLite (tests/unit/daemon): one suite, so the fake cannot drift.
#include <catch2/catch.hpp>

#include "scheduler/services/ports.hpp"

namespace svc::services::test {

inline Service sample_service(const std::string& name, int latest) {
  Service s;
  s.name = name;
  s.spec.name = name;
  s.spec.image = "registry.local/" + name + ":1";
  s.spec.port = 9000;
  s.spec.env = {{"A", "1"}, {"B", "two words"}};
  s.spec.labels = {{"team", "web"}};
  s.spec.scaling.concurrency = 7;
  s.spec.scaling.min_instances = 1;
  s.spec.scaling.max_instances = 9;
  s.spec.scaling.idle_timeout = std::chrono::seconds(2);
  s.spec.readiness_path = "/healthz";
  s.latest_revision = latest;
  s.serving_revision = revision_name(name, latest);
  s.created_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'000));
  s.updated_at = s.created_at + std::chrono::seconds(5);
  return s;
}

inline void service_store_suite(ServiceStore& store) {
  REQUIRE(store.load_all().value().services.empty());

  Service hello = sample_service("hello", 1);
  Revision r1;
  r1.name = "hello-00001";
  r1.service = "hello";
  r1.number = 1;
  r1.spec = hello.spec;
  r1.image_digest = "sha256:aa";
  r1.created_at = hello.created_at;
  REQUIRE(store.put_revision(r1));
  REQUIRE(store.put_service(hello));
  Revision r2 = r1;
  r2.name = "hello-00002";
  r2.number = 2;
  r2.spec.env = {{"A", "2"}};
  REQUIRE(store.put_revision(r2));
  hello.latest_revision = 2;
  hello.spec = r2.spec;
  REQUIRE(store.put_service(hello));  // an update, not a second row
  REQUIRE(store.put_service(sample_service("other", 1)));

  Instance i;
  i.id = "hello-00001-0011aabb";
  i.service = "hello";
  i.revision = "hello-00001";
  i.state = InstanceState::kStarting;
  i.pid = 77;
  i.created_at = hello.created_at;
  REQUIRE(store.put_instance(i));
  i.state = InstanceState::kDraining;
  i.draining_at = hello.updated_at;
  i.stop_reason = "ScaledDown";
  i.stop_message = "idle";
  REQUIRE(store.put_instance(i));

  auto c = store.load_all().value();
  REQUIRE(c.services.size() == 2);
  const Service& got = c.services[0].name == "hello" ? c.services[0] : c.services[1];
  CHECK(got.latest_revision == 2);
  CHECK(got.serving_revision == "hello-00001");
  CHECK(got.spec == r2.spec);
  CHECK(got.created_at == hello.created_at);
  CHECK(got.updated_at == hello.updated_at);
  REQUIRE(c.revisions.size() == 2);
  for (const auto& r : c.revisions) {
    if (r.name == "hello-00001") {
      CHECK(r.spec == r1.spec);
      CHECK(r.image_digest == "sha256:aa");
      CHECK(r.number == 1);
    }
  }
  REQUIRE(c.instances.size() == 1);
  CHECK(c.instances[0].state == InstanceState::kDraining);
  CHECK(c.instances[0].pid == 77);
  CHECK(c.instances[0].stop_reason == "ScaledDown");
  CHECK(c.instances[0].draining_at == hello.updated_at);

  // Removing a service takes its revisions; its instances stay until they are gone.
  REQUIRE(store.remove_service("hello"));
  c = store.load_all().value();
  REQUIRE(c.services.size() == 1);
  CHECK(c.services[0].name == "other");
  CHECK(c.revisions.empty());
  CHECK(c.instances.size() == 1);
  REQUIRE(store.remove_instance(i.id));
  REQUIRE(store.remove_instance(i.id));  // idempotent
  CHECK(store.load_all().value().instances.empty());
}

}  // namespace svc::services::test
