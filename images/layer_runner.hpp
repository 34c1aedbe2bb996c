#pragma once
// Runs the layer pipelines of one image, a bounded number at a time (several downloads keep the
// network and both cores busy; too many would only compete for the disk), and makes concurrent
// pulls that need the same layer share one download and one unpack (single flight): the second
// waits for the first and uses its result.
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "images/layer_ingest.hpp"
#include "images/progress.hpp"

namespace svc::images {

class LayerRunner {
 public:
  LayerRunner(ContentStore& store, Snapshotter& snapshots, int parallel,
              unpack::UnpackOptions options);

  // Returns one outcome per job, or the first error (the other layers are then stopped).
  // fetch_for(i) gives the byte source of job i's blob.
  Result<std::vector<LayerOutcome>> run(const std::vector<LayerJob>& jobs,
                                        const std::function<BlobFetchFn(std::size_t)>& fetch_for,
                                        ProgressTracker& progress, const Cancelled& cancelled);

  const unpack::UnpackOptions& options() const { return options_; }
  Snapshotter& snapshots() { return snapshots_; }

 private:
  Result<LayerOutcome> run_one(const LayerJob& job, const BlobFetchFn& fetch,
                               const LayerProgressFn& progress, const Cancelled& cancelled);

  ContentStore& store_;
  Snapshotter& snapshots_;
  int parallel_;
  unpack::UnpackOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_future<Result<LayerOutcome>>> inflight_;
};

}  // namespace svc::images
