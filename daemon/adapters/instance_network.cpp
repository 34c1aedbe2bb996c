#include "daemon/adapters/instance_network.hpp"

#include <sys/socket.h>

namespace svc::daemon {

Result<services::InstanceNetwork::SocketFactory> InstanceNetworkAdapter::open(
    const std::string& id) {
  auto ns = std::make_shared<UniqueFd>(SVC_TRY(runtime_.open_netns(id)));
  {
    std::lock_guard lock(mu_);
    open_[id] = ns;
  }
  // The worker is shared, not borrowed: a factory the data plane keeps a little longer than
  // this adapter still works (or fails cleanly).
  std::shared_ptr<isolation::NetnsWorker> worker = worker_;
  return SocketFactory([worker, ns]() -> Result<UniqueFd> {
    return worker->socket_in(ns->get(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  });
}

void InstanceNetworkAdapter::close(const std::string& id) {
  std::lock_guard lock(mu_);
  open_.erase(id);
}

}  // namespace svc::daemon
