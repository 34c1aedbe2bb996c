#pragma once
// svctl node drain and resume (Node.Drain, Node.Resume): closes the node's admission
// (scheduler::Capacity::cordon), asks every task that runs to stop with its own stop signal and
// grace period, drains every service instance, and waits, on the ledger's release events, until
// nothing holds a reservation or the caller's timeout passes. What waits for room is kept:
// queued tasks start and services go back to their minimum once resumed. The cordon lives in
// memory: a restarted svcd admits again (what `dpkg -r` relies on: it drains, then stops svcd).
//
// Holds references to the ledger and the controllers, which outlive it (daemon.hpp's order),
// and one release listener on the ledger, removed by the destructor, which also waits for any
// drain in progress to return (shutdown() makes it return at once).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "api/server/services/node_service.hpp"
#include "common/clock.hpp"

namespace svc::scheduler {
class Capacity;
class TaskController;
}  // namespace svc::scheduler
namespace svc::services {
class ServiceController;
}

namespace svc::daemon {

class NodeDrain final : public api::NodeControl {
 public:
  NodeDrain(scheduler::Capacity& capacity, scheduler::TaskController& tasks,
            services::ServiceController& services, const Clock& clock);
  ~NodeDrain() override;
  NodeDrain(const NodeDrain&) = delete;
  NodeDrain& operator=(const NodeDrain&) = delete;

  Result<Drained> drain(std::chrono::milliseconds timeout) override;
  void resume() override;
  // svcd stops: a drain waiting returns at once (what it asked for goes on). Before the
  // controllers shut down.
  void shutdown();

 private:
  scheduler::Capacity& capacity_;
  scheduler::TaskController& tasks_;
  services::ServiceController& services_;
  const Clock& clock_;
  std::uint64_t listener_ = 0;
  std::mutex mu_;
  std::condition_variable released_;  // a release, or shutdown
  bool stopping_ = false;
  int waiting_ = 0;  // drains in progress (the destructor waits for none)
};

}  // namespace svc::daemon
