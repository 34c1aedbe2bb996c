#include "daemon/adapters/image_source.hpp"

namespace svc::daemon {

namespace {

scheduler::ResolvedImage resolved(const images::ImageService& images, const images::Image& image,
                                  const std::string& reference) {
  scheduler::ResolvedImage r;
  r.reference = image.references.empty() ? reference : image.references.front();
  r.digest = image.digest.str();
  r.entrypoint = image.config.entrypoint;
  r.cmd = image.config.cmd;
  r.env = image.config.env;
  r.workdir = image.config.workdir;
  r.user = image.config.user;
  r.stop_signal = image.config.stop_signal;
  for (const auto& dir : images.rootfs_lower_dirs(image)) r.lower_dirs.push_back(dir.string());
  return r;
}

}  // namespace

Result<scheduler::ResolvedImage> ImageSourceAdapter::acquire_local(const std::string& holder,
                                                                   const std::string& reference) {
  // As `docker run`: an image already on the node is used as it is; only a missing one is
  // pulled (`svctl pull` refreshes a tag).
  auto image = SVC_TRY(images_.get_and_lease(holder, reference));
  return resolved(images_, image, reference);
}

Result<scheduler::ResolvedImage> ImageSourceAdapter::pull(const std::string& holder,
                                                          const std::string& reference,
                                                          const std::atomic<bool>& cancel) {
  auto image = SVC_TRY_CTX(images_.pull_and_lease(holder, reference, [&] { return cancel.load(); }),
                           "pull {}", reference);
  return resolved(images_, image, reference);
}

Result<> ImageSourceAdapter::release(const std::string& holder) { return images_.release(holder); }

}  // namespace svc::daemon
