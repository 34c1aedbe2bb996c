#pragma once
// Who is on the other end of an accepted API connection: on the unix socket the kernel's
// SO_PEERCRED (principal "uid:1000" and the pid/uid/gid themselves), over TCP the peer's address
// (the principal comes from its token or certificate). Read once per connection, at accept, by
// the listener; used for authentication, authorisation (only root on the unix socket may import
// by path), the audit log and the failed-auth limiter.
#include <optional>
#include <string>

#include "api/server/dispatcher.hpp"

namespace svc::api {

struct PeerIdentity {
  // "uid:N" on the unix socket; "cert:<subject>" over TLS with a verified client certificate
  // (api/server/tls.hpp), which then needs no token; "" otherwise.
  std::string principal;
  std::string address;  // "127.0.0.1:41234" / "[::1]:41234" over TCP; "" on the unix socket
  // The unix socket peer's credentials (api/server/peer_credentials.hpp); unset over TCP.
  std::optional<PeerCredentials> credentials;
};

PeerIdentity identify_peer(int fd, bool unix_socket);

}  // namespace svc::api
