#include "daemon/adapters/image_source.hpp"

namespace svc::daemon {

Result<scheduler::ResolvedImage> ImageSourceAdapter::resolve(const std::string& reference,
                                                             const std::atomic<bool>& cancel) {
  // As `docker run`: an image already on the node is used as it is; only a missing one is
  // pulled (`svctl pull` refreshes a tag).
  auto local = images_.get(reference);
  images::Image image;
  if (local) {
    image = std::move(*local);
  } else if (local.error().code() == Code::kNotFound) {
    image = SVC_TRY_CTX(images_.pull(reference, std::nullopt, {}, [&] { return cancel.load(); }),
                        "pull {}", reference);
  } else {
    return tl::unexpected(std::move(local).error());
  }
  scheduler::ResolvedImage r;
  r.reference = image.references.empty() ? reference : image.references.front();
  r.digest = image.digest.str();
  r.entrypoint = image.config.entrypoint;
  r.cmd = image.config.cmd;
  r.env = image.config.env;
  r.workdir = image.config.workdir;
  r.user = image.config.user;
  r.stop_signal = image.config.stop_signal;
  for (const auto& dir : images_.rootfs_lower_dirs(image)) r.lower_dirs.push_back(dir.string());
  return r;
}

Result<> ImageSourceAdapter::lease(const std::string& holder, const scheduler::ResolvedImage& r) {
  auto image = SVC_TRY_CTX(images_.get(r.digest), "image {}", r.digest);
  return images_.lease(holder, image);
}

Result<> ImageSourceAdapter::release(const std::string& holder) { return images_.release(holder); }

}  // namespace svc::daemon
