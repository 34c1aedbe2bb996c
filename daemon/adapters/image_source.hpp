#pragma once
// scheduler::ImageSource over images::ImageService: resolve = use the local image or pull it.
#include "images/image_service.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

class ImageSourceAdapter final : public scheduler::ImageSource {
 public:
  explicit ImageSourceAdapter(images::ImageService& images) : images_(images) {}
  Result<scheduler::ResolvedImage> resolve(const std::string& reference,
                                           const std::atomic<bool>& cancel) override;
  Result<> lease(const std::string& holder, const scheduler::ResolvedImage& image) override;
  Result<> release(const std::string& holder) override;

 private:
  images::ImageService& images_;
};

}  // namespace svc::daemon
