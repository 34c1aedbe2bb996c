#include "images/layer_runner.hpp"

#include <atomic>
#include <thread>

namespace svc::images {

LayerRunner::LayerRunner(ContentStore& store, Snapshotter& snapshots, int parallel,
                         unpack::UnpackOptions options)
    : store_(store),
      snapshots_(snapshots),
      parallel_(std::max(1, parallel)),
      options_(std::move(options)) {}

Result<LayerOutcome> LayerRunner::run_one(const LayerJob& job, const BlobFetchFn& fetch,
                                          const LayerProgressFn& progress,
                                          const Cancelled& cancelled) {
  std::string key = job.blob.digest.str() + " " + job.chain_id.str();
  for (int round = 0; round < 2; ++round) {
    std::promise<Result<LayerOutcome>> promise;
    std::shared_future<Result<LayerOutcome>> shared;
    bool leader = false;
    {
      std::lock_guard lock(mu_);
      auto it = inflight_.find(key);
      if (it == inflight_.end()) {
        shared = promise.get_future().share();
        inflight_.emplace(key, shared);
        leader = true;
      } else {
        shared = it->second;
      }
    }
    if (!leader) {
      progress(LayerPhase::kWaiting, 0);
      auto r = shared.get();
      if (r) {
        LayerOutcome o = *r;
        o.fetched = false;
        o.unpacked = false;
        progress(LayerPhase::kAlreadyExists, job.blob.size);
        return o;
      }
      // The other pull failed (or was cancelled): try ourselves once.
      continue;
    }
    unpack::UnpackOptions opts = options_;
    opts.cancelled = cancelled;
    auto r = ingest_layer(store_, snapshots_, job, fetch, opts, progress);
    promise.set_value(r);
    {
      std::lock_guard lock(mu_);
      inflight_.erase(key);
    }
    return r;
  }
  return fail(Code::kAborted, "layer {}: another pull of it failed", job.blob.digest.str());
}

Result<std::vector<LayerOutcome>> LayerRunner::run(
    const std::vector<LayerJob>& jobs, const std::function<BlobFetchFn(std::size_t)>& fetch_for,
    ProgressTracker& progress, const Cancelled& cancelled) {
  std::vector<Result<LayerOutcome>> results(jobs.size(), LayerOutcome{});
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  Cancelled stop = [&] { return failed.load() || (cancelled && cancelled()); };
  auto worker = [&] {
    for (;;) {
      std::size_t i = next.fetch_add(1);
      if (i >= jobs.size() || stop()) return;
      auto r = run_one(
          jobs[i], fetch_for(i),
          [&, i](LayerPhase phase, std::int64_t cur) { progress.update(i, phase, cur); }, stop);
      if (!r) failed = true;
      results[i] = std::move(r);
    }
  };
  std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(parallel_), jobs.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  if (n > 0) worker();
  for (auto& t : threads) t.join();
  if (cancelled && cancelled()) return fail(Code::kCancelled, "pull cancelled");
  // The first real error, not the "stopped because another layer failed" ones.
  const Error* first = nullptr;
  for (const auto& r : results)
    if (!r && (!first || first->code() == Code::kCancelled)) first = &r.error();
  if (first) return tl::unexpected(*first);
  std::vector<LayerOutcome> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(*r);
  return out;
}

}  // namespace svc::images
