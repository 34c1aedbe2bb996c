#pragma once
// api::ImageBackend over images::ImageService: the images module's types turned into the API's
// plain records. Holds a reference; the Daemon owns the image service and stops the API first.
// Owns the store of archives sent over the API (Images.Upload) until they are imported.
#include <memory>

#include "api/server/services/image_backend.hpp"
#include "daemon/uploads.hpp"

namespace svc::images {
class ImageService;
}

namespace svc::daemon {

class ApiImageBackend final : public api::ImageBackend {
 public:
  ApiImageBackend(images::ImageService& images, std::unique_ptr<UploadStore> uploads)
      : images_(images), uploads_(std::move(uploads)) {}

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
  Result<std::string> open_upload() override;
  Result<std::int64_t> append_upload(std::string_view id, std::int64_t offset,
                                     std::string_view data) override;
  Result<std::vector<api::ImageRecord>> import_upload(std::string_view id,
                                                      std::string_view reference,
                                                      const Cancelled& cancelled) override;

 private:
  images::ImageService& images_;
  std::unique_ptr<UploadStore> uploads_;
};

}  // namespace svc::daemon
