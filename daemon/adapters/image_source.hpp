#pragma once
// scheduler::ImageSource over images::ImageService: the local image or a pull, each leased to
// the task in the same step as it is found (ImageService::get_and_lease / pull_and_lease).
#include "images/image_service.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

class ImageSourceAdapter final : public scheduler::ImageSource {
 public:
  explicit ImageSourceAdapter(images::ImageService& images) : images_(images) {}
  Result<scheduler::ResolvedImage> acquire_local(const std::string& holder,
                                                 const std::string& reference) override;
  Result<scheduler::ResolvedImage> pull(const std::string& holder, const std::string& reference,
                                        const std::atomic<bool>& cancel) override;
  Result<> release(const std::string& holder) override;

 private:
  images::ImageService& images_;
};

}  // namespace svc::daemon
