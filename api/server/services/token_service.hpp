#pragma once
// Tokens.Create / List / Revoke over a TokenBackend the daemon implements (daemon/tokens).
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/server/dispatcher.hpp"

namespace svc::api {

struct TokenRecord {
  std::string id;
  std::string name;
  std::chrono::system_clock::time_point created_at;
  std::optional<std::chrono::system_clock::time_point> expires_at;
  std::optional<std::chrono::system_clock::time_point> last_used_at;
  bool revoked = false;
};

class TokenBackend {
 public:
  virtual ~TokenBackend() = default;
  // Returns the record and the secret token, shown once.
  virtual Result<std::pair<TokenRecord, std::string>> create(std::string_view name,
                                                             std::chrono::milliseconds ttl) = 0;
  virtual Result<std::vector<TokenRecord>> list() = 0;
  virtual Result<TokenRecord> revoke(std::string_view id) = 0;
};

// Token management is only offered on the unix socket: a token cannot mint more tokens.
void register_token_service(Dispatcher& dispatcher, TokenBackend& backend);

}  // namespace svc::api
