#include "daemon/billing/usage_metrics.hpp"

#include <functional>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

namespace svc::billing {

namespace {

using metrics::Sample;
using metrics::Type;

// The store's totals, read once per scrape: the families of one render() ask within
// microseconds of each other, and the next scrape reads them anew (a cache by time served a
// scrape 0.3 s after another its figures).
class TotalsCache {
 public:
  TotalsCache(daemon::SqlUsageStore& store, const metrics::Registry& registry)
      : store_(store), registry_(registry) {}

  // nullopt when the store cannot be read (logged; the scrape shows no usage samples rather
  // than zeros that would look like a counter reset).
  std::optional<daemon::UsageTotals> get() {
    std::lock_guard lock(mu_);
    auto serial = registry_.render_serial();
    if (cached_ && serial == serial_) return cached_;
    auto t = store_.totals();
    if (!t) {
      spdlog::warn("metrics: reading usage totals failed: {}", t.error().message());
      cached_.reset();
      return std::nullopt;
    }
    cached_ = *t;
    serial_ = serial;
    return cached_;
  }

 private:
  daemon::SqlUsageStore& store_;
  const metrics::Registry& registry_;
  std::mutex mu_;
  std::optional<daemon::UsageTotals> cached_;
  std::uint64_t serial_ = 0;
};

}  // namespace

void register_usage_metrics(metrics::Registry& r, daemon::SqlUsageStore& store,
                            std::string currency) {
  auto cache = std::make_shared<TotalsCache>(store, r);
  using Figure = std::function<double(const UsageRow&)>;
  auto per_kind = [&](const char* name, const char* help, Figure figure,
                      std::vector<std::string> extra_labels = {},
                      std::vector<std::string> extra_values = {}) {
    std::vector<std::string> labels = {"kind"};
    labels.insert(labels.end(), extra_labels.begin(), extra_labels.end());
    r.collect(name, help, Type::kCounter, labels, [cache, figure, extra_values] {
      std::vector<Sample> out;
      auto t = cache->get();
      if (!t) return out;
      auto sample = [&](const char* kind, const UsageRow& row) {
        std::vector<std::string> values = {kind};
        values.insert(values.end(), extra_values.begin(), extra_values.end());
        out.push_back({std::move(values), figure(row)});
      };
      sample("task", t->tasks);
      sample("instance", t->instances);
      return out;
    });
  };
  auto d = [](std::int64_t v) { return static_cast<double>(v); };
  per_kind("svc_usage_runs_total", "Runs whose usage record is closed.",
           [d](const UsageRow& x) { return d(x.runs); });
  per_kind("svc_usage_run_seconds_total", "Wall-clock time of closed runs.",
           [d](const UsageRow& x) { return d(x.run_ms) / 1e3; });
  per_kind("svc_usage_billed_seconds_total",
           "Billed seconds of closed runs (rounded up per second, task minimum included).",
           [d](const UsageRow& x) { return d(x.billed_seconds); });
  per_kind("svc_usage_billed_vcpu_seconds_total", "Billed vCPU x billed seconds.",
           [d](const UsageRow& x) { return d(x.vcpu_milli_seconds) / 1e3; });
  per_kind("svc_usage_billed_memory_byte_seconds_total",
           "Billed memory x billed seconds, in byte-seconds (GiB-seconds x 2^30).",
           [d](const UsageRow& x) { return d(x.memory_mib_seconds) * 1048576.0; });
  per_kind("svc_usage_cpu_seconds_total", "CPU time measured in the runs' cgroups.",
           [d](const UsageRow& x) { return d(x.cpu_ms) / 1e3; });
  per_kind("svc_usage_requests_total", "Requests served by service instances, billed.",
           [](const UsageRow& x) { return static_cast<double>(x.requests); });
  per_kind("svc_usage_cost_total",
           "What closed runs cost, in the currency (exact figures: svctl usage).",
           [d](const UsageRow& x) { return d(x.cost) / 1e9; }, {"currency"}, {currency});
  r.collect("svc_usage_open_runs", "Runs whose usage record is open (running now).", Type::kGauge,
            {"kind"}, [cache] {
              std::vector<Sample> out;
              auto t = cache->get();
              if (!t) return out;
              out.push_back({{"task"}, static_cast<double>(t->open_tasks)});
              out.push_back({{"instance"}, static_cast<double>(t->open_instances)});
              return out;
            });
}

}  // namespace svc::billing
