#pragma once
// api::ImageBackend over images::ImageService: the images module's types turned into the API's
// plain records. Holds a reference; the Daemon owns the image service and stops the API first.
#include "api/server/services/image_backend.hpp"

namespace svc::images {
class ImageService;
}

namespace svc::daemon {

class ApiImageBackend final : public api::ImageBackend {
 public:
  explicit ApiImageBackend(images::ImageService& images) : images_(images) {}

  Result<api::ImageRecord> pull(std::string_view reference,
                                const std::optional<api::PlatformRecord>& platform,
                                const Progress& progress, const Cancelled& cancelled) override;
  Result<std::vector<api::ImageRecord>> list() override;
  Result<api::ImageRecord> get(std::string_view reference) override;
  Result<api::RemoveImageOutcome> remove(std::string_view reference, bool force) override;
  Result<std::vector<api::ImageRecord>> import(const std::filesystem::path& path,
                                               std::string_view reference,
                                               const Cancelled& cancelled) override;
  Result<api::PruneImagesOutcome> prune(bool all) override;

 private:
  images::ImageService& images_;
};

}  // namespace svc::daemon
