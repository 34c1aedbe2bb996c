#pragma once
// API tokens for the TCP endpoint: "svc_<id>_<secret>". Only sha256(secret) is stored; checks
// compare in constant time.
#include "api/server/services/token_service.hpp"
#include "common/clock.hpp"
#include "daemon/store/store.hpp"

namespace svc::daemon {

class TokenManager final : public api::TokenBackend {
 public:
  TokenManager(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  Result<std::pair<api::TokenRecord, std::string>> create(std::string_view name,
                                                          std::chrono::milliseconds ttl) override;
  Result<std::vector<api::TokenRecord>> list() override;
  Result<api::TokenRecord> revoke(std::string_view id) override;

  // The token's name when it is valid, else UNAUTHENTICATED (the same message for every kind
  // of bad token, so a caller learns nothing about which ids exist).
  Result<std::string> authenticate(std::string_view token);

 private:
  Result<api::TokenRecord> get(std::string_view id);
  Store& store_;
  const Clock& clock_;
};

}  // namespace svc::daemon
