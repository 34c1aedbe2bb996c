#pragma once
// The ports the service controller stands on, beside those it shares with tasks
// (scheduler/tasks/ports.hpp: ImageSource, TaskRuntime, Executor) and the data plane
// (scheduler/ingress/ports.hpp). daemon/ adapts the real modules; unit tests use the fakes in
// tests/unit/scheduler/services/fakes.hpp.
#include <functional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "scheduler/ingress/ports.hpp"
#include "scheduler/services/service.hpp"

namespace svc::services {

// Durable records of services, revisions and the instances that exist. Writes are small and
// each is its own transaction; the controller calls them in the order of its changes.
class ServiceStore {
 public:
  virtual ~ServiceStore() = default;
  virtual Result<> put_service(const Service& service) = 0;
  // Removes the service and every revision of it.
  virtual Result<> remove_service(const std::string& name) = 0;
  virtual Result<> put_revision(const Revision& revision) = 0;
  virtual Result<> put_instance(const Instance& instance) = 0;
  virtual Result<> remove_instance(const std::string& id) = 0;
  // The instance ended (instance.end says how): its row goes, and what belongs with its end
  // (its usage record's close, daemon/store) in the same transaction. A store with nothing to
  // write beside the row just removes it.
  virtual Result<> end_instance(const Instance& instance) { return remove_instance(instance.id); }

  struct Contents {
    std::vector<Service> services;
    std::vector<Revision> revisions;
    std::vector<Instance> instances;
  };
  virtual Result<Contents> load_all() = 0;
};

// Sockets into an instance's own network namespace, for the data plane. open() is called once
// per instance, when its sandbox runs; the function it returns is thread-safe and cheap (the
// real one keeps the namespace open and asks a thread that hops into it). close() releases
// what open() held.
class InstanceNetwork {
 public:
  virtual ~InstanceNetwork() = default;
  using SocketFactory = std::function<Result<UniqueFd>()>;
  virtual Result<SocketFactory> open(const std::string& instance_id) = 0;
  virtual void close(const std::string& instance_id) = 0;
};

// Where instance output and request lines go when the instance is gone, so `svctl service
// logs` still shows what a service did after it scaled to zero.
class ServiceLogs {
 public:
  virtual ~ServiceLogs() = default;
  // One proxied request (on the data plane's threads: must not block).
  virtual void request(const ingress::RequestRecord& record) = 0;
  // The instance stopped: keep its output under its service before the sandbox is removed.
  virtual void archive(const std::string& service, const std::string& instance_id) = 0;
  // The service was deleted: its logs go too.
  virtual void forget(const std::string& service) = 0;
};

}  // namespace svc::services
