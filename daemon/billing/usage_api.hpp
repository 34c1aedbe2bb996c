#pragma once
// api::UsageBackend over the usage store: the API's plain queries become billing queries and
// the answers come back as the API's plain structs (api/ sees no billing or store types).
#include "api/server/services/usage_service.hpp"
#include "common/clock.hpp"
#include "daemon/billing/meter.hpp"
#include "daemon/billing/usage_record.hpp"
#include "daemon/store/usage_store.hpp"

namespace svc::billing {

class UsageApi final : public api::UsageBackend {
 public:
  UsageApi(daemon::SqlUsageStore& store, Policy policy, const Clock& clock)
      : store_(store), policy_(std::move(policy)), clock_(clock) {}

  Result<api::UsageSummary> summary(const api::UsageSummaryQuery& query) override;
  Result<std::pair<std::vector<api::UsageRun>, std::string>> runs(
      const api::UsageRunsQuery& query) override;
  api::UsagePricing pricing() const override;

  // Before serving: svcd's live figures of open runs (the instances' requests and busy time),
  // so a query sees them at once rather than after the meter's next checkpoint.
  void set_activity(ActivitySource* source) { activity_ = source; }

  static api::UsageRun to_api(const UsageRecord& record, std::int64_t now_ms);

 private:
  daemon::SqlUsageStore& store_;
  Policy policy_;
  const Clock& clock_;
  ActivitySource* activity_ = nullptr;

  void with_live(UsageRecord& record) const;
};

}  // namespace svc::billing
