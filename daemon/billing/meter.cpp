#include "daemon/billing/meter.hpp"

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

namespace svc::billing {

void fold_activity(Measured& measured, BusyState& busy, const Activity& activity) {
  busy = activity.busy;
  measured.requests = std::max(measured.requests, activity.requests);
  measured.busy_ms = std::max(measured.busy_ms, activity.busy.busy_ms);
}

std::string sandbox_of(const UsageRecord& r) {
  return r.owner.kind == RunKind::kTask ? r.owner.task_id : r.owner.instance;
}

void fold_memory(Measured& m, std::uint64_t sample, std::int64_t weight_ms) {
  if (weight_ms <= 0) return;
  __int128 total = static_cast<__int128>(m.memory_avg_bytes) * m.memory_sampled_ms +
                   static_cast<__int128>(sample) * weight_ms;
  m.memory_sampled_ms += weight_ms;
  m.memory_avg_bytes = static_cast<std::uint64_t>(total / m.memory_sampled_ms);
}

UsageMeter::UsageMeter(daemon::SqlUsageStore& store, UsageProbe& probe, const Clock& clock,
                       Options options)
    : store_(store), probe_(probe), clock_(clock), options_(options) {}

UsageMeter::~UsageMeter() { stop(); }

void UsageMeter::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void UsageMeter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void UsageMeter::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void UsageMeter::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.tick, [&] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    lock.unlock();
    if (auto r = checkpoint_once(); !r)
      spdlog::warn("billing: checkpoint of open usage records failed (retried next tick): {}",
                   r.error().message());
    lock.lock();
  }
}

Result<std::size_t> UsageMeter::checkpoint_once() {
  auto open = SVC_TRY(store_.open_records());
  const std::int64_t now = unix_millis(clock_.now());
  const std::int64_t interval = options_.interval.count();
  std::vector<daemon::UsageCheckpoint> out;
  std::map<std::string, Activity> written;
  for (const UsageRecord& r : open) {
    std::optional<Activity> act = activity_ ? activity_->activity(r.id) : std::nullopt;
    auto with_activity = [&](daemon::UsageCheckpoint& c) {
      if (!act) return;
      c.busy.emplace();
      fold_activity(c.measured, *c.busy, *act);
      written[r.id] = *act;
    };
    bool never = r.checkpoint_ms <= r.start_ms;
    bool due = never ? now - r.start_ms >= options_.first_sample.count()
                     : now - r.checkpoint_ms >= interval;
    std::optional<Sample> sample;
    if (due) sample = probe_.sample(sandbox_of(r));
    if (!sample) {
      // Not due (or gone: its close carries the final figures). Changed activity is written
      // alone; the checkpoint time stays, since the cgroup was not seen.
      auto w = written_.find(r.id);
      if (act && (w == written_.end() || !(w->second == *act))) {
        daemon::UsageCheckpoint c;
        c.id = r.id;
        c.at_ms = r.checkpoint_ms;
        c.measured = r.measured;
        with_activity(c);
        out.push_back(std::move(c));
      } else if (w != written_.end()) {
        written[r.id] = w->second;
      }
      continue;
    }
    daemon::UsageCheckpoint c;
    c.id = r.id;
    c.at_ms = now;
    c.measured = r.measured;
    c.measured.cpu_ms =
        std::max<std::int64_t>(c.measured.cpu_ms, std::llround(sample->cpu_seconds * 1000.0));
    c.measured.memory_peak_bytes =
        std::max({c.measured.memory_peak_bytes, sample->memory_peak_bytes, sample->memory_bytes});
    // The sample stands for the time since the last one, but never for more than two intervals:
    // after svcd was down, one sample says nothing about the hours it missed.
    std::int64_t since = std::max(r.checkpoint_ms, r.start_ms);
    fold_memory(c.measured, sample->memory_bytes,
                std::min<std::int64_t>(now - since, 2 * std::max<std::int64_t>(interval, 1)));
    with_activity(c);
    out.push_back(std::move(c));
  }
  SVC_TRY(store_.checkpoint(out));
  written_ = std::move(written);  // records that closed drop out
  return out.size();
}

}  // namespace svc::billing
