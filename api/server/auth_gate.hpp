#pragma once
// Who a call on the TCP listener is. A verified client certificate (TLS, [api] client_ca) is
// enough: "cert:<subject>". Otherwise the call's bearer token, checked by the daemon's token
// store: "token:<name>". Every failed check is logged with the peer and the token's id (the
// public half of "svc_<id>_<secret>"), never the secret, and counted per peer: a peer that
// fails too often is refused for a while without its token being looked at (AuthLimiter).
//
// Shared by the gRPC and REST gateways, so both answer a bad token the same way and share one
// budget per peer.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/server/auth_limiter.hpp"
#include "api/server/peer.hpp"
#include "common/result.hpp"

namespace svc::api {

class AuthGate {
 public:
  // The daemon's token check: the token's name, or UNAUTHENTICATED.
  using TokenCheck = std::function<Result<std::string>(std::string_view token)>;

  AuthGate(TokenCheck tokens, const Clock& clock, AuthLimiter::Options limits = {})
      : tokens_(std::move(tokens)), limiter_(clock, limits) {}

  // "token:<name>"; UNAUTHENTICATED for a bad token; RESOURCE_EXHAUSTED while the peer is
  // limited (the message says for how long).
  Result<std::string> check_token(std::string_view token, const PeerIdentity& peer);

  // A failed attempt that did not go through check_token (a TLS handshake whose client
  // certificate was refused): counted and logged the same way.
  void failed(const PeerIdentity& peer, std::string_view why);

  // How long the peer still waits; nullopt when it may try now.
  std::optional<std::chrono::milliseconds> retry_after(const PeerIdentity& peer);

 private:
  TokenCheck tokens_;
  AuthLimiter limiter_;
};

// "svc_<id>_<secret>" -> "<id>"; "" for anything else. Safe to log.
std::string token_id_of(std::string_view token);

}  // namespace svc::api
