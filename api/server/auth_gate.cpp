#include "api/server/auth_gate.hpp"

#include <cctype>

#include <spdlog/spdlog.h>

namespace svc::api {

namespace {

std::string key_of(const PeerIdentity& peer) {
  return AuthLimiter::peer_key(peer.address.empty() ? "unknown" : peer.address);
}

Error limited(const PeerIdentity& peer, std::chrono::milliseconds wait) {
  auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
  return Error(Code::kResourceExhausted,
               fmt::format("too many failed authentications from {}: try again in {} s, with a "
                           "valid token (svctl token ls on the node)",
                           key_of(peer), seconds));
}

}  // namespace

std::string token_id_of(std::string_view token) {
  // svc_<12 hex>_<secret>: the id is public (svctl token ls shows it).
  if (!token.starts_with("svc_") || token.size() < 17 || token[16] != '_') return {};
  std::string_view id = token.substr(4, 12);
  for (char c : id)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  return std::string(id);
}

Result<std::string> AuthGate::check_token(std::string_view token, const PeerIdentity& peer) {
  const std::string key = key_of(peer);
  if (auto wait = limiter_.retry_after(key)) return tl::unexpected(limited(peer, *wait));
  auto name = tokens_(token);
  if (name) return "token:" + *name;
  limiter_.failed(key);
  std::string id = token_id_of(token);
  spdlog::warn("api: failed authentication from {}: {} ({})", peer.address, name.error().message(),
               id.empty() ? "not an svc token" : "token id " + id);
  return tl::unexpected(name.error());
}

void AuthGate::failed(const PeerIdentity& peer, std::string_view why) {
  limiter_.failed(key_of(peer));
  spdlog::warn("api: failed authentication from {}: {}", peer.address, why);
}

std::optional<std::chrono::milliseconds> AuthGate::retry_after(const PeerIdentity& peer) {
  return limiter_.retry_after(key_of(peer));
}

}  // namespace svc::api
