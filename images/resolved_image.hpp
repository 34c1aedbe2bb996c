#pragma once
// What a pull or an import has found before any layer is fetched: the index (if any), the
// platform's manifest and its config, checked against each other. commit_image() then runs the
// layers, stores the documents and writes the image record and its name — the one path by which
// an image enters the store, whatever its source.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "images/content_store.hpp"
#include "images/image.hpp"
#include "images/image_store.hpp"
#include "images/layer_runner.hpp"

namespace svc::images {

struct ResolvedImage {
  std::vector<std::string> names;  // normalised references to point at the image
  std::optional<std::pair<Digest, std::string>> index;  // digest and body
  Digest manifest_digest;
  std::string manifest_body;
  Manifest manifest;
  std::string config_body;
  ImageConfigFile config;
};

// Parses and cross-checks: the config's digest, one diff_id per layer, tar layer types.
Result<ResolvedImage> resolve_documents(std::string manifest_body, std::string config_body);

std::vector<LayerJob> layer_jobs(const ResolvedImage& image);

Result<Image> commit_image(ResolvedImage resolved, LayerRunner& runner, ContentStore& store,
                           ImageStore& images,
                           const std::function<BlobFetchFn(const Descriptor&)>& fetch_for,
                           ProgressTracker& progress, const Cancelled& cancelled,
                           const Clock& clock);

}  // namespace svc::images
