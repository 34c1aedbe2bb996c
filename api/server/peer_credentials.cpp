#include "api/server/peer_credentials.hpp"

#include <sys/socket.h>

#include <charconv>

namespace svc::api {

std::optional<PeerCredentials> peer_credentials(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.ss_family != AF_UNIX)
    return std::nullopt;
  ucred cred{};
  socklen_t clen = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || clen != sizeof cred)
    return std::nullopt;
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

std::optional<PeerCredentials> peer_credentials_of_grpc_peer(std::string_view peer) {
  if (!peer.starts_with("fd:")) return std::nullopt;
  peer.remove_prefix(3);
  int fd = -1;
  auto [end, ec] = std::from_chars(peer.data(), peer.data() + peer.size(), fd);
  if (ec != std::errc() || end != peer.data() + peer.size() || fd < 0) return std::nullopt;
  return peer_credentials(fd);
}

}  // namespace svc::api
