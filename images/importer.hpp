#pragma once
// Import without a registry: an OCI image layout (image-layout.md: oci-layout, index.json,
// blobs/sha256/…) as a directory or a tar (optionally compressed), or a `docker save` archive
// (manifest.json with Config, RepoTags and Layers; layers are plain tars). This is how an
// offline node gets images. Blobs are verified as they enter the content store, layers go
// through the same pipeline as a pull.
#include <filesystem>
#include <optional>
#include <vector>

#include "images/reference.hpp"
#include "images/resolved_image.hpp"

namespace svc::images {

class Importer {
 public:
  Importer(LayerRunner& runner, ContentStore& store, ImageStore& images, const Clock& clock,
           std::string default_registry)
      : runner_(runner),
        store_(store),
        images_(images),
        clock_(clock),
        default_registry_(std::move(default_registry)) {}

  // name: given to an image that carries none (or to the only image of the archive).
  Result<std::vector<Image>> import(const std::filesystem::path& path,
                                    const std::optional<Reference>& name, const Platform& platform,
                                    ProgressTracker& progress, const Cancelled& cancelled);

 private:
  Result<std::vector<Image>> import_dir(const std::filesystem::path& dir,
                                        const std::optional<Reference>& name,
                                        const Platform& platform, ProgressTracker& progress,
                                        const Cancelled& cancelled);
  Result<std::vector<Image>> import_oci_layout(const std::filesystem::path& dir,
                                               const std::optional<Reference>& name,
                                               const Platform& platform, ProgressTracker& progress,
                                               const Cancelled& cancelled);
  Result<std::vector<Image>> import_docker_save(const std::filesystem::path& dir,
                                                const std::optional<Reference>& name,
                                                ProgressTracker& progress,
                                                const Cancelled& cancelled);
  Result<std::vector<std::string>> names_for(const std::map<std::string, std::string>& annotations,
                                             const std::optional<Reference>& name,
                                             std::size_t image_count);

  LayerRunner& runner_;
  ContentStore& store_;
  ImageStore& images_;
  const Clock& clock_;
  std::string default_registry_;
};

}  // namespace svc::images
