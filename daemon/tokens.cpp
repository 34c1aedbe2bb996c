#include "daemon/tokens.hpp"

#include <openssl/crypto.h>

#include "common/digest.hpp"

namespace svc::daemon {

namespace {

api::TokenRecord read_record(const Statement& s) {
  api::TokenRecord r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.created_at = from_unix_millis(s.int64(2));
  if (!s.is_null(3)) r.expires_at = from_unix_millis(s.int64(3));
  if (!s.is_null(4)) r.last_used_at = from_unix_millis(s.int64(4));
  r.revoked = s.int64(5) != 0;
  return r;
}

constexpr const char* kColumns = "id, name, created_at, expires_at, last_used_at, revoked";

}  // namespace

Result<std::pair<api::TokenRecord, std::string>> TokenManager::create(
    std::string_view name, std::chrono::milliseconds ttl) {
  api::TokenRecord r;
  r.id = random_hex(6);
  r.name = std::string(name);
  r.created_at = clock_.now();
  if (ttl.count() > 0) r.expires_at = r.created_at + ttl;
  std::string secret = random_hex(24);
  auto tx = SVC_TRY(store_.begin());
  auto stmt = SVC_TRY(tx.prepare(
      "INSERT INTO tokens(id, name, secret_hash, created_at, expires_at) VALUES(?, ?, ?, ?, ?)"));
  stmt.bind(1, r.id).bind(2, r.name).bind(3, Digest::sha256_of(secret).hex());
  stmt.bind(4, unix_millis(r.created_at));
  if (r.expires_at)
    stmt.bind(5, unix_millis(*r.expires_at));
  else
    stmt.bind_null(5);
  SVC_TRY(stmt.run());
  SVC_TRY(tx.commit());
  return std::make_pair(r, fmt::format("svc_{}_{}", r.id, secret));
}

Result<std::vector<api::TokenRecord>> TokenManager::list() {
  return store_.read([&](Store& s) -> Result<std::vector<api::TokenRecord>> {
    auto stmt =
        SVC_TRY(s.prepare(fmt::format("SELECT {} FROM tokens ORDER BY created_at", kColumns)));
    std::vector<api::TokenRecord> out;
    while (SVC_TRY(stmt.step())) out.push_back(read_record(stmt));
    return out;
  });
}

Result<api::TokenRecord> TokenManager::get(std::string_view id) {
  return store_.read([&](Store& s) -> Result<api::TokenRecord> {
    auto stmt = SVC_TRY(s.prepare(fmt::format("SELECT {} FROM tokens WHERE id = ?", kColumns)));
    stmt.bind(1, id);
    if (!SVC_TRY(stmt.step())) return fail(Code::kNotFound, "no token with id \"{}\"", id);
    return read_record(stmt);
  });
}

Result<api::TokenRecord> TokenManager::revoke(std::string_view id) {
  {
    auto tx = SVC_TRY(store_.begin());
    auto stmt = SVC_TRY(tx.prepare("UPDATE tokens SET revoked = 1 WHERE id = ?"));
    stmt.bind(1, id);
    SVC_TRY(stmt.run());
    if (tx.changes() == 0) return fail(Code::kNotFound, "no token with id \"{}\"", id);
    SVC_TRY(tx.commit());
  }
  return get(id);
}

Result<std::string> TokenManager::authenticate(std::string_view token) {
  auto bad = [] {
    return fail(Code::kUnauthenticated,
                "the token is not valid (unknown, revoked or expired): create one with `svctl "
                "token create` on the node");
  };
  // svc_<12 hex>_<48 hex>
  if (!token.starts_with("svc_") || token.size() != 4 + 12 + 1 + 48 || token[16] != '_')
    return bad();
  std::string_view id = token.substr(4, 12);
  std::string_view secret = token.substr(17);
  std::string hash, name;
  std::int64_t expires = 0;
  bool has_expiry = false, revoked = false;
  auto found = store_.read([&](Store& s) -> Result<bool> {
    auto stmt = SVC_TRY(
        s.prepare("SELECT secret_hash, name, expires_at, revoked FROM tokens WHERE id = ?"));
    stmt.bind(1, id);
    if (!SVC_TRY(stmt.step())) return false;
    hash = stmt.text(0);
    name = stmt.text(1);
    has_expiry = !stmt.is_null(2);
    expires = stmt.int64(2);
    revoked = stmt.int64(3) != 0;
    return true;
  });
  if (!found) return tl::unexpected(found.error());
  std::string given = Digest::sha256_of(secret).hex();
  if (!*found || hash.size() != given.size() ||
      CRYPTO_memcmp(hash.data(), given.data(), given.size()) != 0 || revoked ||
      (has_expiry && unix_millis(clock_.now()) >= expires))
    return bad();
  (void)store_.read([&](Store& s) -> Result<> {
    auto stmt = SVC_TRY(s.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?"));
    stmt.bind(1, unix_millis(clock_.now())).bind(2, id);
    return stmt.run();
  });
  return name;
}

}  // namespace svc::daemon
