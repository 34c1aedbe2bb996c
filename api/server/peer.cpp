#include "api/server/peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "api/server/peer_credentials.hpp"

namespace svc::api {

PeerIdentity identify_peer(int fd, bool unix_socket) {
  PeerIdentity id;
  if (unix_socket) {
    id.credentials = peer_credentials(fd);
    id.principal = id.credentials ? fmt::format("uid:{}", id.credentials->uid) : "unix";
    return id;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return id;
  char host[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    id.address = fmt::format("{}:{}", host, ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    id.address = fmt::format("[{}]:{}", host, ntohs(a->sin6_port));
  }
  return id;
}

}  // namespace svc::api
