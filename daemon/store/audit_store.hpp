#pragma once
// The audit log in svcd.db (migration 3): appended by the API's audit observer, read by
// Audit.List, pruned to the retention ([api] audit_retention) at start and every hour of
// appends.
#include <atomic>
#include <chrono>

#include "api/server/services/audit_service.hpp"
#include "common/clock.hpp"
#include "daemon/store/store.hpp"

namespace svc::daemon {

class SqlAuditStore final : public api::AuditBackend {
 public:
  SqlAuditStore(Store& store, const Clock& clock, std::chrono::milliseconds retention)
      : store_(store), clock_(clock), retention_(retention) {}

  Result<> append(const api::AuditRecord& record) override;
  Result<std::vector<api::AuditRecord>> list(
      std::optional<std::chrono::system_clock::time_point> since, int limit) override;

  // Deletes records older than the retention; returns how many went.
  Result<int> prune();

 private:
  Store& store_;
  const Clock& clock_;
  std::chrono::milliseconds retention_;
  std::atomic<std::int64_t> last_prune_ms_{0};  // appends come from many API threads
};

}  // namespace svc::daemon
