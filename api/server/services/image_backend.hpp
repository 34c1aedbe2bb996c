#pragma once
// The port svc.v1.Images stands on, with plain records of its own (as TokenBackend has), so the
// API neither links images/ nor takes its classes. daemon/adapters/api_images.* implements it
// over images::ImageService; tests/unit/api/ uses a fake.
//
// Calls may block (pull, import) and come from several threads at once.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::api {

struct PlatformRecord {
  std::string os;            // "linux"
  std::string architecture;  // "amd64"
  std::string variant;       // "v8", or ""
};

struct LayerRecord {
  std::string digest;    // the blob as stored
  std::string diff_id;   // the uncompressed tar
  std::string chain_id;  // the snapshot's key
  std::int64_t size = 0;
  std::string media_type;
};

struct ImageConfigRecord {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE, as in the image
  std::string workdir;
  std::string user;
  std::vector<std::string> exposed_ports;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
};

struct ImageRecord {
  std::vector<std::string> references;  // normalised names; the first is the one shown
  std::string digest;                   // manifest digest
  std::string config_digest;
  std::string media_type;
  PlatformRecord platform;
  std::vector<LayerRecord> layers;  // bottom to top
  std::int64_t size = 0;
  std::int64_t unpacked_size = 0;
  ImageConfigRecord config;
  std::optional<std::chrono::system_clock::time_point> created;
  std::chrono::system_clock::time_point pulled_at;
};

enum class LayerPhase { kWaiting, kDownloading, kVerifying, kUnpacking, kDone, kAlreadyExists };

struct LayerUpdate {
  std::string digest;
  LayerPhase phase = LayerPhase::kWaiting;
  std::int64_t current = 0;
  std::int64_t total = 0;
};

struct PullUpdate {
  std::string message;  // "resolving …", "fetching layers", …
  std::vector<LayerUpdate> layers;
};

struct RemoveImageOutcome {
  std::vector<std::string> untagged;
  std::vector<std::string> deleted;
  std::int64_t reclaimed_bytes = 0;
};

struct PruneImagesOutcome {
  std::vector<std::string> deleted_images;
  int deleted_blobs = 0;
  int deleted_snapshots = 0;
  std::int64_t reclaimed_bytes = 0;
};

class ImageBackend {
 public:
  using Cancelled = std::function<bool()>;
  // Called one update at a time (never concurrently), on whichever thread the pull runs.
  using Progress = std::function<void(const PullUpdate&)>;

  virtual ~ImageBackend() = default;
  // platform unset: the node's.
  virtual Result<ImageRecord> pull(std::string_view reference,
                                   const std::optional<PlatformRecord>& platform,
                                   const Progress& progress, const Cancelled& cancelled) = 0;
  virtual Result<std::vector<ImageRecord>> list() = 0;
  // By name, digest or unique digest prefix.
  virtual Result<ImageRecord> get(std::string_view reference) = 0;
  virtual Result<RemoveImageOutcome> remove(std::string_view reference, bool force) = 0;
  // An OCI layout (dir or tar) or a `docker save` tar at path, read by svcd itself: the caller
  // decides who may name a path. reference names an image that carries no name.
  virtual Result<std::vector<ImageRecord>> import(const std::filesystem::path& path,
                                                  std::string_view reference,
                                                  const Cancelled& cancelled) = 0;
  // Archives sent over the API: open_upload answers a new upload's id; append_upload writes
  // data at offset (the size so far) and answers the new size; import_upload imports the
  // archive and ends the upload, whatever the outcome.
  virtual Result<std::string> open_upload() = 0;
  virtual Result<std::int64_t> append_upload(std::string_view id, std::int64_t offset,
                                             std::string_view data) = 0;
  virtual Result<std::vector<ImageRecord>> import_upload(std::string_view id,
                                                         std::string_view reference,
                                                         const Cancelled& cancelled) = 0;
  virtual Result<PruneImagesOutcome> prune(bool all) = 0;
};

}  // namespace svc::api
