#include "images/image_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <spdlog/spdlog.h>

#include "images/content_store.hpp"
#include "images/gc.hpp"
#include "images/image_store.hpp"
#include "images/importer.hpp"
#include "images/layer_runner.hpp"
#include "images/leases.hpp"
#include "images/puller.hpp"
#include "images/registry/registry_client.hpp"
#include "images/snapshotter.hpp"

namespace svc::images {

ImageService::ImageService(ImageServiceOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

ImageService::~ImageService() = default;

Result<std::unique_ptr<ImageService>> ImageService::create(ImageServiceOptions options,
                                                           const Clock& clock) {
  std::unique_ptr<ImageService> s(new ImageService(std::move(options), clock));
  const auto& root = s->options_.root;
  s->store_ = std::make_unique<ContentStore>(root);
  s->snapshots_ = std::make_unique<Snapshotter>(root);
  s->images_ = std::make_unique<ImageStore>(root);
  s->leases_ = std::make_unique<LeaseStore>(root);
  SVC_TRY(s->store_->init());
  SVC_TRY(s->snapshots_->init());
  SVC_TRY(s->images_->init());
  SVC_TRY(s->leases_->init());
  unpack::UnpackOptions uo;
  uo.limits = s->options_.limits;
  uo.preserve_owners = s->options_.preserve_owners.value_or(::geteuid() == 0);
  s->runner_ =
      std::make_unique<LayerRunner>(*s->store_, *s->snapshots_, s->options_.parallel_layers, uo);
  s->registry_ = SVC_TRY(registry::RegistryClient::create(s->options_.registries));
  if (auto* m = s->options_.metrics) {
    s->pulls_ =
        &m->counter("svc_image_pulls_total", "Image pulls by result (ok, error).", {"result"});
    s->pull_bytes_ =
        &m->counter("svc_image_pull_bytes_total", "Layer bytes fetched from registries by pulls.")
             .get();
    s->pull_seconds_ = &m->histogram("svc_image_pull_duration_seconds",
                                     "Time a pull took, resolve to unpacked, by result.",
                                     {"result"}, {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300});
  }
  return s;
}

Platform ImageService::platform() const { return options_.platform.value_or(host_platform()); }

Result<Reference> ImageService::parse_reference(std::string_view text) const {
  return images::parse_reference(text, options_.registries.default_registry);
}

Result<Image> ImageService::pull(std::string_view reference,
                                 const std::optional<Platform>& platform,
                                 const ProgressFn& progress, const Cancelled& cancelled) {
  Reference ref = SVC_TRY(parse_reference(reference));
  std::shared_lock lock(gc_mu_);
  return pull_locked(ref, platform, progress, cancelled);
}

Result<Image> ImageService::pull_locked(const Reference& ref,
                                        const std::optional<Platform>& platform,
                                        const ProgressFn& progress, const Cancelled& cancelled) {
  const auto started = clock_.steady_now();
  // Bytes fetched, per layer, from the progress the pull reports anyway: a layer already on disk
  // fetches nothing; one done fetched its whole size. (Serialised: ProgressTracker calls one at a
  // time.)
  std::map<std::string, std::int64_t> fetched;
  ProgressTracker tracker([&](const PullProgress& p) {
    if (pull_bytes_) {
      for (const auto& l : p.layers) {
        if (l.phase == LayerPhase::kWaiting || l.phase == LayerPhase::kAlreadyExists) continue;
        std::int64_t n = l.phase == LayerPhase::kDone ? l.total : l.current;
        auto& seen = fetched[l.digest.str()];
        seen = std::max(seen, n);
      }
    }
    if (progress) progress(p);
  });
  Puller puller(*registry_, *runner_, *store_, *images_, clock_);
  auto r = puller.pull(ref, platform.value_or(this->platform()), tracker, cancelled);
  if (!r) spdlog::warn("{}", r.error().message());
  if (pulls_) {
    const char* result = r ? "ok" : "error";
    pulls_->with({result}).inc();
    std::int64_t bytes = 0;
    for (const auto& [digest, n] : fetched) bytes += n;
    pull_bytes_->inc(static_cast<double>(bytes));
    pull_seconds_->with({result}).observe(
        std::chrono::duration<double>(clock_.steady_now() - started).count());
  }
  return r;
}

Result<Image> ImageService::get_and_lease(const std::string& holder, std::string_view reference) {
  std::shared_lock lock(gc_mu_);
  auto im = SVC_TRY(find(reference));
  if (!im)
    return fail(Code::kNotFound, "no image \"{}\" on this node (pull it with `svctl pull {}`)",
                reference, reference);
  SVC_TRY_CTX(lease_locked(holder, *im), "keep image {} for {}", im->digest.short_str(), holder);
  return *im;
}

Result<Image> ImageService::pull_and_lease(const std::string& holder, std::string_view reference,
                                           const Cancelled& cancelled) {
  Reference ref = SVC_TRY(parse_reference(reference));
  std::shared_lock lock(gc_mu_);
  Image im = SVC_TRY(pull_locked(ref, std::nullopt, {}, cancelled));
  SVC_TRY_CTX(lease_locked(holder, im), "keep image {} for {}", im.digest.short_str(), holder);
  return im;
}

Result<std::optional<Image>> ImageService::find(std::string_view text) const {
  if (auto ref = parse_reference(text)) {
    if (auto d = images_->resolve(ref->str())) return images_->get(*d);
  }
  std::string_view hex = text;
  if (hex.starts_with("sha256:")) hex.remove_prefix(7);
  bool is_hex = hex.size() >= 4 && hex.size() <= 64 &&
                hex.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!is_hex) return std::optional<Image>();
  auto all = SVC_TRY(images_->list());
  std::optional<Image> found;
  for (auto& im : all) {
    if (!im.digest.hex().starts_with(hex)) continue;
    if (found)
      return fail(Code::kInvalidArgument,
                  "\"{}\" matches more than one image ({} and {}): give more digits", text,
                  found->digest.short_str(), im.digest.short_str());
    found = std::move(im);
  }
  return found;
}

Result<Image> ImageService::get(std::string_view reference) const {
  auto im = SVC_TRY(find(reference));
  if (!im)
    return fail(Code::kNotFound, "no image \"{}\" on this node (pull it with `svctl pull {}`)",
                reference, reference);
  return *im;
}

Result<std::vector<Image>> ImageService::list() const { return images_->list(); }

Result<RemoveResult> ImageService::remove(std::string_view reference, bool force) {
  std::unique_lock lock(gc_mu_);
  auto found = SVC_TRY(find(reference));
  if (!found) return fail(Code::kNotFound, "no image \"{}\" on this node", reference);
  Image im = *found;
  // A name untags only that name; a digest (or prefix) means the whole image.
  std::vector<std::string> names;
  if (auto ref = parse_reference(reference);
      ref &&
      std::find(im.references.begin(), im.references.end(), ref->str()) != im.references.end())
    names.push_back(ref->str());
  else
    names = im.references;
  bool last_name = names.size() == im.references.size();
  auto leases = SVC_TRY(leases_->list());
  bool leased = image_leased(im, leases);
  if (last_name && leased && !force) {
    std::string holders;
    for (const auto& l : leases)
      if (image_leased(im, {l})) holders += (holders.empty() ? "" : ", ") + l.holder;
    return fail(Code::kFailedPrecondition,
                "image {} is in use by {}: delete those tasks first, or use --force to remove its "
                "name only (the files stay until the tasks are gone)",
                reference, holders);
  }
  RemoveResult out;
  for (const auto& n : names) {
    SVC_TRY(images_->remove_ref(n));
    out.untagged.push_back(n);
  }
  if (last_name && !leased) {
    SVC_TRY(images_->remove(im.digest));
    out.deleted.push_back(im.digest.str());
  }
  auto gc = SVC_TRY(collect_locked());
  out.reclaimed_bytes = gc.reclaimed_bytes;
  return out;
}

Result<PruneResult> ImageService::prune(bool all) {
  std::unique_lock lock(gc_mu_);
  auto images = SVC_TRY(images_->list());
  auto leases = SVC_TRY(leases_->list());
  std::vector<std::string> deleted;
  for (const auto& im : images) {
    if (image_leased(im, leases)) continue;
    if (!im.references.empty() && !all) continue;
    for (const auto& n : im.references) SVC_TRY(images_->remove_ref(n));
    SVC_TRY(images_->remove(im.digest));
    deleted.push_back(im.digest.str());
  }
  PruneResult out = SVC_TRY(collect_locked());
  out.deleted_images = std::move(deleted);
  return out;
}

Result<PruneResult> ImageService::collect_locked() {
  GcInput in;
  in.images = SVC_TRY(images_->list());
  in.leases = SVC_TRY(leases_->list());
  in.blobs = store_->list();
  in.snapshots = snapshots_->list();
  GcPlan plan = plan_gc(in);
  PruneResult out;
  for (const auto& b : plan.blobs) {
    out.reclaimed_bytes += SVC_TRY(store_->remove(b));
    ++out.deleted_blobs;
  }
  for (const auto& s : plan.snapshots) {
    out.reclaimed_bytes += SVC_TRY(snapshots_->remove(s));
    ++out.deleted_snapshots;
  }
  if (out.deleted_blobs || out.deleted_snapshots)
    spdlog::info("image gc: removed {} blobs and {} snapshots", out.deleted_blobs,
                 out.deleted_snapshots);
  return out;
}

Result<std::vector<Image>> ImageService::import(const std::filesystem::path& path,
                                                std::string_view reference,
                                                const ProgressFn& progress,
                                                const Cancelled& cancelled) {
  std::optional<Reference> ref;
  if (!reference.empty()) ref = SVC_TRY(parse_reference(reference));
  std::shared_lock lock(gc_mu_);
  ProgressTracker tracker(progress);
  Importer importer(*runner_, *store_, *images_, clock_, options_.registries.default_registry);
  return importer.import(path, ref, platform(), tracker, cancelled);
}

Result<> ImageService::lease(const std::string& holder, const Image& image) {
  std::shared_lock lock(gc_mu_);
  return lease_locked(holder, image);
}

Result<> ImageService::lease_locked(const std::string& holder, const Image& image) {
  Lease l{holder, {image.digest}, {}};
  for (const auto& layer : image.layers) l.chain_ids.push_back(layer.chain_id);
  return leases_->add(l);
}

Result<> ImageService::release(const std::string& holder) {
  std::shared_lock lock(gc_mu_);
  return leases_->release(holder);
}

std::vector<std::filesystem::path> ImageService::rootfs_lower_dirs(const Image& image) const {
  std::vector<std::filesystem::path> out;
  for (const auto& l : image.layers) out.push_back(snapshots_->path(l.chain_id));
  return out;
}

}  // namespace svc::images
