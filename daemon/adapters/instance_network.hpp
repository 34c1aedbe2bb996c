#pragma once
// services::InstanceNetwork over the sandbox runtime: open() takes an fd of the instance's
// network namespace once (checked to belong to its running first process) and the socket
// factory asks one NetnsWorker thread, which hops into that namespace, for each new socket. So
// the proxy reaches the instance on its own loopback, and nothing else on the host can.
//
// Owns the worker thread and the namespace fds of open instances; a factory keeps its
// instance's fd alive on its own, so one the data plane still holds never sees a closed fd.
#include <map>
#include <memory>
#include <mutex>

#include "isolation/netns.hpp"
#include "isolation/runtime.hpp"
#include "scheduler/services/ports.hpp"

namespace svc::daemon {

class InstanceNetworkAdapter final : public services::InstanceNetwork {
 public:
  explicit InstanceNetworkAdapter(isolation::Runtime& runtime) : runtime_(runtime) {}
  Result<SocketFactory> open(const std::string& instance_id) override;
  void close(const std::string& instance_id) override;

 private:
  isolation::Runtime& runtime_;
  // Shared with the factories; declared before them so it outlives what they capture.
  std::shared_ptr<isolation::NetnsWorker> worker_ = std::make_shared<isolation::NetnsWorker>();
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<UniqueFd>> open_;
};

}  // namespace svc::daemon
