#pragma once
// Usage counters in the metrics registry, read from the usage store at scrape time: what has
// been billed, by kind of run (task, instance), summed over every closed run in svcd.db — so the
// counters survive restarts of svcd and equal what `svctl usage` reports, never a copy that could
// drift. One store read serves all the families of a scrape (cached for a moment).
//
// The store must outlive every scrape (svcd stops its API server before the store goes).
#include <string>

#include "common/metrics.hpp"
#include "daemon/store/usage_store.hpp"

namespace svc::billing {

// svc_usage_runs_total, svc_usage_run_seconds_total, svc_usage_billed_seconds_total,
// svc_usage_billed_vcpu_seconds_total, svc_usage_billed_memory_byte_seconds_total,
// svc_usage_cpu_seconds_total (measured), svc_usage_requests_total, svc_usage_cost_total
// (in `currency`), each {kind="task"|"instance"}; svc_usage_open_runs{kind}.
void register_usage_metrics(metrics::Registry& registry, daemon::SqlUsageStore& store,
                            std::string currency);

}  // namespace svc::billing
