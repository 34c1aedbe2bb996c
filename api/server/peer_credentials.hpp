#pragma once
// The credentials of a unix socket's peer (SO_PEERCRED): the pid, uid and gid of the process
// that connected, as the kernel recorded them at connect(). Unset for any other socket.
#include <optional>
#include <string_view>

#include "api/server/dispatcher.hpp"

namespace svc::api {

std::optional<PeerCredentials> peer_credentials(int fd);

// gRPC names a connection it was handed by fd (AddInsecureChannelFromFd) "fd:N". While a call
// on it runs, the transport holds the fd open, so N still is that connection: its peer's
// credentials. Anything else (another transport, a name that does not parse): unset.
std::optional<PeerCredentials> peer_credentials_of_grpc_peer(std::string_view peer);

}  // namespace svc::api
