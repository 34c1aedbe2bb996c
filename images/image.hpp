#pragma once
// An image as svc keeps it: the manifest it came from, the platform picked, its layers (blob,
// diff_id, chain id = snapshot key) and the config fields the runtime needs.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/result.hpp"
#include "images/manifest.hpp"
#include "images/platform.hpp"

namespace svc::images {

struct LayerInfo {
  Digest digest;                   // the blob as stored (compressed)
  Digest diff_id;                  // the uncompressed tar, verified while unpacking
  Digest chain_id;                 // snapshots/<chain_id hex>/
  std::int64_t size = 0;           // compressed bytes
  std::int64_t unpacked_size = 0;  // bytes of file data in the snapshot
  std::string media_type;
  friend bool operator==(const LayerInfo&, const LayerInfo&) = default;
};

struct Image {
  std::vector<std::string> references;  // normalised names pointing here ("docker.io/library/a:3")
  Digest digest;                        // manifest digest: the image's identity
  std::optional<Digest> index_digest;   // the index it was chosen from, if any
  std::string media_type;               // of the manifest
  Digest config_digest;
  Platform platform;
  std::vector<LayerInfo> layers;  // bottom to top
  ImageConfig config;
  std::int64_t size = 0;           // manifest + config + compressed layers
  std::int64_t unpacked_size = 0;  // file data in all snapshots
  std::optional<std::chrono::system_clock::time_point> created;
  std::chrono::system_clock::time_point pulled_at;
};

std::string image_to_json(const Image& image);
Result<Image> image_from_json(std::string_view text);

}  // namespace svc::images
