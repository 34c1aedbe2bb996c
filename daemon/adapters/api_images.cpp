#include "daemon/adapters/api_images.hpp"

#include "images/image_service.hpp"

namespace svc::daemon {

namespace {

api::PlatformRecord convert(const images::Platform& p) { return {p.os, p.architecture, p.variant}; }

api::ImageRecord convert(const images::Image& im) {
  api::ImageRecord r;
  r.references = im.references;
  r.digest = im.digest.str();
  r.config_digest = im.config_digest.str();
  r.media_type = im.media_type;
  r.platform = convert(im.platform);
  for (const auto& l : im.layers)
    r.layers.push_back({l.digest.str(), l.diff_id.str(), l.chain_id.str(), l.size, l.media_type});
  r.size = im.size;
  r.unpacked_size = im.unpacked_size;
  const auto& c = im.config;
  r.config = {c.entrypoint, c.cmd,           c.env,         c.workdir,
              c.user,       c.exposed_ports, c.stop_signal, c.labels};
  r.created = im.created;
  r.pulled_at = im.pulled_at;
  return r;
}

api::LayerPhase convert(images::LayerPhase p) {
  using P = images::LayerPhase;
  switch (p) {
    case P::kWaiting:
      return api::LayerPhase::kWaiting;
    case P::kDownloading:
      return api::LayerPhase::kDownloading;
    case P::kVerifying:
      return api::LayerPhase::kVerifying;
    case P::kUnpacking:
      return api::LayerPhase::kUnpacking;
    case P::kDone:
      return api::LayerPhase::kDone;
    case P::kAlreadyExists:
      return api::LayerPhase::kAlreadyExists;
  }
  return api::LayerPhase::kWaiting;
}

api::PullUpdate convert(const images::PullProgress& p) {
  api::PullUpdate u;
  u.message = p.message;
  for (const auto& l : p.layers)
    u.layers.push_back({l.digest.str(), convert(l.phase), l.current, l.total});
  return u;
}

std::vector<api::ImageRecord> convert(const std::vector<images::Image>& list) {
  std::vector<api::ImageRecord> out;
  out.reserve(list.size());
  for (const auto& im : list) out.push_back(convert(im));
  return out;
}

}  // namespace

Result<api::ImageRecord> ApiImageBackend::pull(std::string_view reference,
                                               const std::optional<api::PlatformRecord>& platform,
                                               const Progress& progress,
                                               const Cancelled& cancelled) {
  std::optional<images::Platform> want;
  if (platform)
    want = images::normalize(
        images::Platform{platform->os, platform->architecture, platform->variant});
  images::ProgressFn fn;
  if (progress) fn = [&progress](const images::PullProgress& p) { progress(convert(p)); };
  return convert(SVC_TRY(images_.pull(reference, want, fn, cancelled)));
}

Result<std::vector<api::ImageRecord>> ApiImageBackend::list() {
  return convert(SVC_TRY(images_.list()));
}

Result<api::ImageRecord> ApiImageBackend::get(std::string_view reference) {
  return convert(SVC_TRY(images_.get(reference)));
}

Result<api::RemoveImageOutcome> ApiImageBackend::remove(std::string_view reference, bool force) {
  auto r = SVC_TRY(images_.remove(reference, force));
  return api::RemoveImageOutcome{r.untagged, r.deleted, r.reclaimed_bytes};
}

Result<std::vector<api::ImageRecord>> ApiImageBackend::import(const std::filesystem::path& path,
                                                              std::string_view reference,
                                                              const Cancelled& cancelled) {
  return convert(SVC_TRY(images_.import(path, reference, {}, cancelled)));
}

Result<std::string> ApiImageBackend::open_upload() { return uploads_->create(); }

Result<std::int64_t> ApiImageBackend::append_upload(std::string_view id, std::int64_t offset,
                                                    std::string_view data) {
  return uploads_->append(id, offset, data);
}

Result<std::vector<api::ImageRecord>> ApiImageBackend::import_upload(std::string_view id,
                                                                     std::string_view reference,
                                                                     const Cancelled& cancelled) {
  auto taken = SVC_TRY(uploads_->take(id));  // its file goes when this call ends
  auto images = images_.import(taken->path(), reference, {}, cancelled);
  if (!images) {
    // The scratch path means nothing to the caller: name the upload instead.
    std::string msg = images.error().message();
    std::string path = taken->path().string();
    for (auto at = msg.find(path); at != std::string::npos; at = msg.find(path))
      msg.replace(at, path.size(), fmt::format("the uploaded archive ({})", id));
    return fail(images.error().code(), "{}", msg);
  }
  return convert(std::move(*images));
}

Result<api::PruneImagesOutcome> ApiImageBackend::prune(bool all) {
  auto r = SVC_TRY(images_.prune(all));
  return api::PruneImagesOutcome{r.deleted_images, r.deleted_blobs, r.deleted_snapshots,
                                 r.reclaimed_bytes};
}

}  // namespace svc::daemon
