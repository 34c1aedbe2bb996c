#pragma once
// The usage meter: while runs are open it samples their cgroups and writes what it measured to
// their records — CPU seconds, peak memory, the time-weighted average memory — together with the
// time it saw them alive (the record's checkpoint). So a crash of svcd loses at most one
// checkpoint of measured detail, and no billed second: billed seconds follow from the start
// (written when the run started) and the end (the shim's exit record, which outlives svcd).
//
// Each open record is sampled once a second after it opens (so runs of a few seconds still get
// an average), then every `interval`; one transaction per tick holds all that tick's samples.
//
// Owns one thread (start() .. stop()); checkpoint_once() is the tick, called directly by tests
// on a fake clock.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.hpp"
#include "daemon/billing/usage_record.hpp"
#include "daemon/store/usage_store.hpp"

namespace svc::billing {

// A sandbox's cgroup now.
struct Sample {
  double cpu_seconds = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t memory_peak_bytes = 0;
};

class UsageProbe {
 public:
  virtual ~UsageProbe() = default;
  // nullopt when the sandbox is gone (its exit record has the final figures).
  virtual std::optional<Sample> sample(const std::string& sandbox_id) = 0;
};

// What svcd itself measures of an open run, in memory, beside its cgroup: a service instance's
// request-mode accounting (from the proxy's edges) and the requests it served.
struct Activity {
  BusyState busy;
  std::uint64_t requests = 0;
  bool operator==(const Activity&) const = default;
};

class ActivitySource {
 public:
  virtual ~ActivitySource() = default;
  // nullopt for a record it does not track (tasks, instances that have exited).
  virtual std::optional<Activity> activity(const std::string& record_id) = 0;
};

// Folds what svcd measured of an open run into its figures: the live accounting replaces the
// stored one (it only ever grows), counts never go down.
void fold_activity(Measured& measured, BusyState& busy, const Activity& activity);

// The sandbox a record measures: the task's, or the instance's.
std::string sandbox_of(const UsageRecord& record);

// Folds one memory sample into a time-weighted average: sample weighs `weight_ms`.
void fold_memory(Measured& measured, std::uint64_t sample_bytes, std::int64_t weight_ms);

class UsageMeter {
 public:
  struct Options {
    std::chrono::milliseconds interval{15'000};
    std::chrono::milliseconds first_sample{1'000};  // a new run's first sample
    std::chrono::milliseconds tick{1'000};
  };
  UsageMeter(daemon::SqlUsageStore& store, UsageProbe& probe, const Clock& clock, Options options);
  ~UsageMeter();
  UsageMeter(const UsageMeter&) = delete;
  UsageMeter& operator=(const UsageMeter&) = delete;

  void start();
  void stop();

  // Before start(): the instances' accounting. Their records' activity is written with each
  // sample, and also at every tick in which it changed (without a cgroup sample, so cheap): a
  // crash of svcd loses at most one tick of request-mode busy time.
  void set_activity(ActivitySource* source) { activity_ = source; }

  // Samples the open records that are due and writes them; returns how many it wrote.
  Result<std::size_t> checkpoint_once();

  // Wakes the thread for a tick now.
  void wake();

 private:
  void loop();

  daemon::SqlUsageStore& store_;
  UsageProbe& probe_;
  const Clock& clock_;
  Options options_;
  ActivitySource* activity_ = nullptr;
  std::map<std::string, Activity> written_;  // by record id; checkpoint_once() only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace svc::billing
