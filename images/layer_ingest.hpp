#pragma once
// One layer's pipeline, which reads the blob exactly once: the bytes from the network (or from a
// local file) are hashed and written to the content store's temp file on the download thread,
// and handed through a bounded pipe to an unpack thread that decompresses them, hashes the
// uncompressed stream (the diff_id) and writes the files into the snapshot's temp dir. Only when
// the blob's digest and size AND the diff_id all match are the blob and the snapshot renamed
// into place; otherwise both temps are removed.
#include <cstdint>
#include <functional>

#include "common/digest.hpp"
#include "common/result.hpp"
#include "images/content_store.hpp"
#include "images/manifest.hpp"
#include "images/progress.hpp"
#include "images/snapshotter.hpp"
#include "images/unpack/layer_unpacker.hpp"

namespace svc::images {

struct LayerJob {
  Descriptor blob;  // digest, size, media type from the manifest
  Digest diff_id;   // from the image config
  Digest chain_id;
};

struct LayerOutcome {
  bool fetched = false;   // bytes were read from the source
  bool unpacked = false;  // a snapshot was made
  std::int64_t unpacked_size = 0;
  std::vector<std::string> implied_dirs;  // see UnpackStats::implied_dirs
};

// Streams the blob's bytes, in order, into the sink (a RegistryClient::fetch_blob, or a file).
using BlobSinkFn = std::function<Result<>(const char*, std::size_t)>;
using BlobFetchFn = std::function<Result<>(const BlobSinkFn&)>;

// Progress for this one layer: phase and bytes so far.
using LayerProgressFn = std::function<void(LayerPhase, std::int64_t)>;

// Ensures the blob is in the store and the snapshot exists; fetch is called only when the blob
// is missing.
Result<LayerOutcome> ingest_layer(ContentStore& store, Snapshotter& snapshots, const LayerJob& job,
                                  const BlobFetchFn& fetch, const unpack::UnpackOptions& options,
                                  const LayerProgressFn& progress);

// Gives every implied directory of a freshly unpacked layer the owner, mode and times of the
// same directory in the nearest lower layer that has it, bottom to top, so the overlay shows
// what the image's author had (a layer tar that omits "home/user/" must not turn it into
// root:root 0755). Runs after all layers of an image are present.
Result<> inherit_implied_dirs(Snapshotter& snapshots, const std::vector<LayerJob>& jobs,
                              const std::vector<LayerOutcome>& outcomes);

}  // namespace svc::images
