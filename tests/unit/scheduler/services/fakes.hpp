#pragma once
// Fakes for the service controller's ports: a data plane that records what it was told and
// reports the load a test scripts, an in-memory store, network and log sink. With the task
// fakes (images, runtime, manual executor on a fake clock) they run the controller without
// sockets, sandboxes or threads.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "scheduler/ingress/ports.hpp"
#include "scheduler/services/ports.hpp"
#include "tests/unit/scheduler/fakes.hpp"

namespace svc::services::test {

class FakeDataPlane final : public ingress::DataPlane {
 public:
  void set_route(ingress::ServiceRoute route) override {
    std::lock_guard l(mu);
    log.push_back("route " + route.service + " " +
                  (route.traffic.empty() ? std::string("-") : route.traffic.front().revision));
    routes[route.service] = std::move(route);
  }
  void remove_route(const std::string& service) override {
    std::lock_guard l(mu);
    log.push_back("unroute " + service);
    routes.erase(service);
  }
  void add_instance(ingress::InstanceEndpoint ep, ingress::Readiness readiness) override {
    std::lock_guard l(mu);
    log.push_back("add " + ep.id);
    readiness_of[ep.id] = readiness;
    endpoints[ep.id] = std::move(ep);
  }
  void drain_instance(const std::string& id) override {
    ingress::ControlPlane* cp = nullptr;
    {
      std::lock_guard l(mu);
      log.push_back("drain " + id);
      draining.insert(id);
      if (drain_at_once && busy.count(id) == 0) cp = control;
    }
    // As a real data plane may: at once, from inside drain_instance, when idle.
    if (cp) cp->on_drained(id);
  }
  void remove_instance(const std::string& id, std::string why) override {
    std::lock_guard l(mu);
    log.push_back("remove " + id);
    removed.emplace_back(id, std::move(why));
    endpoints.erase(id);
    draining.erase(id);
  }
  void fail_waiting(const std::string& revision, std::string why, int status) override {
    std::lock_guard l(mu);
    log.push_back("fail " + revision);
    failed.emplace_back(revision, std::move(why));
    failed_status.push_back(status);
  }
  std::vector<ingress::RevisionLoad> load() const override {
    std::lock_guard l(mu);
    std::vector<ingress::RevisionLoad> out;
    for (const auto& [rev, load] : loads) out.push_back(load);
    return out;
  }

  // The load a test scripts: concurrency c (in flight) and w held for revision over dt.
  void flow(const std::string& service, const std::string& revision, double c, std::size_t w,
            std::chrono::milliseconds dt, std::uint64_t finished = 0) {
    std::lock_guard l(mu);
    ingress::RevisionLoad& load = loads[revision];
    load.service = service;
    load.revision = revision;
    load.in_flight = static_cast<int>(c);
    load.waiting = w;
    load.concurrency_ms_total += (c + static_cast<double>(w)) * static_cast<double>(dt.count());
    load.requests_total += finished;
  }
  std::vector<std::string> added() const {
    std::lock_guard l(mu);
    std::vector<std::string> out;
    for (const auto& e : log)
      if (e.starts_with("add ")) out.push_back(e.substr(4));
    return out;
  }
  bool routed(const std::string& id) const {
    std::lock_guard l(mu);
    return endpoints.count(id) && !draining.count(id);
  }

  mutable std::mutex mu;
  ingress::ControlPlane* control = nullptr;
  bool drain_at_once = true;
  std::set<std::string> busy;  // instances with requests in flight (no on_drained at once)
  std::vector<std::string> log;
  std::map<std::string, ingress::ServiceRoute> routes;
  std::map<std::string, ingress::InstanceEndpoint> endpoints;
  std::map<std::string, ingress::Readiness> readiness_of;
  std::set<std::string> draining;
  std::vector<std::pair<std::string, std::string>> removed;
  std::vector<std::pair<std::string, std::string>> failed;
  std::vector<int> failed_status;  // beside failed
  std::map<std::string, ingress::RevisionLoad> loads;
};

class FakeServiceStore final : public ServiceStore {
 public:
  Result<> put_service(const Service& s) override {
    std::lock_guard l(mu);
    if (fail_writes) return fail(Code::kResourceExhausted, "disk full");
    services[s.name] = s;
    return {};
  }
  Result<> remove_service(const std::string& name) override {
    std::lock_guard l(mu);
    services.erase(name);
    for (auto it = revisions.begin(); it != revisions.end();)
      it = it->second.service == name ? revisions.erase(it) : std::next(it);
    return {};
  }
  Result<> put_revision(const Revision& r) override {
    std::lock_guard l(mu);
    if (fail_writes) return fail(Code::kResourceExhausted, "disk full");
    revisions[r.name] = r;
    return {};
  }
  Result<> put_instance(const Instance& i) override {
    std::lock_guard l(mu);
    instances[i.id] = i;
    return {};
  }
  Result<> remove_instance(const std::string& id) override {
    std::lock_guard l(mu);
    instances.erase(id);
    return {};
  }
  // The ends written (what the usage record closes with), in order.
  Result<> end_instance(const Instance& i) override {
    std::lock_guard l(mu);
    instances.erase(i.id);
    ended.push_back(i);
    return {};
  }
  std::vector<Instance> ended;
  Result<Contents> load_all() override {
    std::lock_guard l(mu);
    Contents c;
    for (const auto& [k, v] : services) c.services.push_back(v);
    for (const auto& [k, v] : revisions) c.revisions.push_back(v);
    for (const auto& [k, v] : instances) c.instances.push_back(v);
    return c;
  }
  std::mutex mu;
  std::map<std::string, Service> services;
  std::map<std::string, Revision> revisions;
  std::map<std::string, Instance> instances;
  bool fail_writes = false;
};

class FakeNetwork final : public InstanceNetwork {
 public:
  Result<SocketFactory> open(const std::string& id) override {
    std::lock_guard l(mu);
    if (fail_open) return fail(Code::kFailedPrecondition, "sandbox {} is not running", id);
    opened.insert(id);
    return SocketFactory([] { return Result<UniqueFd>(fail(Code::kUnimplemented, "fake")); });
  }
  void close(const std::string& id) override {
    std::lock_guard l(mu);
    opened.erase(id);
  }
  std::mutex mu;
  std::set<std::string> opened;
  bool fail_open = false;
};

class FakeServiceLogs final : public ServiceLogs {
 public:
  void request(const ingress::RequestRecord& r) override {
    std::lock_guard l(mu);
    requests.push_back(r);
  }
  void archive(const std::string& service, const std::string& id) override {
    std::lock_guard l(mu);
    archived.emplace_back(service, id);
  }
  void forget(const std::string& service) override {
    std::lock_guard l(mu);
    forgotten.push_back(service);
  }
  std::mutex mu;
  std::vector<ingress::RequestRecord> requests;
  std::vector<std::pair<std::string, std::string>> archived;
  std::vector<std::string> forgotten;
};

}  // namespace svc::services::test
