#pragma once
// The images module's facade, which svcd constructs once: pull from registries, import from
// files, list/get/remove/prune, leases for live tasks, and the snapshot dirs a sandbox's rootfs
// stacks. On disk, under options.root (svcd's state dir):
//   content/blobs/sha256/<hex>   blobs (content_store.hpp)      content/ingest/  temp blobs
//   snapshots/<chain id hex>/    unpacked layers (snapshotter.hpp)
//   images/refs/, images/records/, images/leases/   names, image records, leases
// Thread-safe. Pulls and imports run concurrently (sharing layer downloads); remove and prune
// wait for them and block new ones while they collect garbage.
#include <filesystem>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "images/image.hpp"
#include "images/progress.hpp"
#include "images/reference.hpp"
#include "images/registry/options.hpp"
#include "images/unpack/layer_unpacker.hpp"

namespace svc::images {

class ContentStore;
class Snapshotter;
class ImageStore;
class LeaseStore;
class LayerRunner;
namespace registry {
class RegistryClient;
}

struct ImageServiceOptions {
  std::filesystem::path root;            // svcd's state dir
  registry::RegistryOptions registries;  // default registry, mirrors, insecure, auth file
  int parallel_layers = 3;               // layers fetched and unpacked at once per pull
  unpack::UnpackLimits limits;           // per layer: entries, file size, uncompressed size
  std::optional<bool> preserve_owners;   // unset: when running as root
  std::optional<Platform> platform;      // unset: this node's (uname)
  // Pulls, layer bytes fetched and pull durations (svc_image_pull*); unset: not reported.
  metrics::Registry* metrics = nullptr;
};

struct RemoveResult {
  std::vector<std::string> untagged;  // names removed
  std::vector<std::string> deleted;   // image digests removed
  std::int64_t reclaimed_bytes = 0;
};

struct PruneResult {
  std::vector<std::string> deleted_images;
  int deleted_blobs = 0;
  int deleted_snapshots = 0;
  std::int64_t reclaimed_bytes = 0;
};

class ImageService {
 public:
  static Result<std::unique_ptr<ImageService>> create(ImageServiceOptions options,
                                                      const Clock& clock);
  ~ImageService();

  // platform: unset = the node's. progress may be empty. cancelled may be empty.
  Result<Image> pull(std::string_view reference, const std::optional<Platform>& platform = {},
                     const ProgressFn& progress = {}, const Cancelled& cancelled = {});

  // By name ("alpine:3", normalised), digest ("sha256:…") or a unique digest prefix.
  Result<Image> get(std::string_view reference) const;
  Result<std::vector<Image>> list() const;

  // Untags a name, or with a digest every name of that image; deletes the image when no name is
  // left, then its blobs and snapshots that nothing else needs. An image a lease holds is
  // refused unless force, which removes the names only (the leased content stays).
  Result<RemoveResult> remove(std::string_view reference, bool force);

  // An OCI image layout (directory or tar) or a `docker save` tar. reference names an image that
  // carries no name of its own.
  Result<std::vector<Image>> import(const std::filesystem::path& path, std::string_view reference,
                                    const ProgressFn& progress = {},
                                    const Cancelled& cancelled = {});

  // Deletes images without a name (all: also named ones) that no lease holds, then every blob
  // and snapshot no remaining image or lease needs.
  Result<PruneResult> prune(bool all);

  // Leases (see leases.hpp): holder is a task id; kept across restarts.
  Result<> lease(const std::string& holder, const Image& image);
  Result<> release(const std::string& holder);
  // A task's image, found and leased to holder in one step under the GC lock, so a remove or
  // prune cannot delete it between the two: NOT_FOUND when it is not on the node.
  Result<Image> get_and_lease(const std::string& holder, std::string_view reference);
  // Pulls it and leases the result to holder before any remove or prune can run.
  Result<Image> pull_and_lease(const std::string& holder, std::string_view reference,
                               const Cancelled& cancelled = {});

  // What the runtime stacks: the image's snapshot dirs, bottom layer first.
  std::vector<std::filesystem::path> rootfs_lower_dirs(const Image& image) const;

  Result<Reference> parse_reference(std::string_view text) const;
  const ImageServiceOptions& options() const { return options_; }
  Platform platform() const;

 private:
  ImageService(ImageServiceOptions options, const Clock& clock);
  Result<std::optional<Image>> find(std::string_view reference) const;
  // Caller holds gc_mu_ (shared).
  Result<Image> pull_locked(const Reference& ref, const std::optional<Platform>& platform,
                            const ProgressFn& progress, const Cancelled& cancelled);
  Result<> lease_locked(const std::string& holder, const Image& image);
  // Deletes unreachable blobs and snapshots; caller holds gc_mu_ exclusively.
  Result<PruneResult> collect_locked();

  ImageServiceOptions options_;
  const Clock& clock_;
  std::unique_ptr<ContentStore> store_;
  std::unique_ptr<Snapshotter> snapshots_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<LeaseStore> leases_;
  std::unique_ptr<LayerRunner> runner_;
  std::unique_ptr<registry::RegistryClient> registry_;
  mutable std::shared_mutex gc_mu_;  // shared: pull/import; exclusive: remove/prune
  metrics::Family<metrics::Counter>* pulls_ = nullptr;
  metrics::Counter* pull_bytes_ = nullptr;
  metrics::Family<metrics::Histogram>* pull_seconds_ = nullptr;
};

}  // namespace svc::images
