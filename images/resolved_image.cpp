#include "images/resolved_image.hpp"

namespace svc::images {

Result<ResolvedImage> resolve_documents(std::string manifest_body, std::string config_body) {
  ResolvedImage r;
  r.manifest_digest = Digest::sha256_of(manifest_body);
  r.manifest = SVC_TRY(parse_manifest(manifest_body));
  if (Digest::sha256_of(config_body) != r.manifest.config.digest)
    return fail(Code::kDataLoss, "image config does not match its digest {}",
                r.manifest.config.digest.str());
  r.config = SVC_TRY(parse_image_config(config_body));
  if (r.config.diff_ids.size() != r.manifest.layers.size())
    return fail(Code::kDataLoss,
                "the manifest lists {} layers but the image config has {} diff_ids: the image is "
                "inconsistent",
                r.manifest.layers.size(), r.config.diff_ids.size());
  for (const auto& l : r.manifest.layers) {
    if (!l.media_type.empty())
      SVC_TRY_CTX(layer_compression(l.media_type), "layer {}", l.digest.str());
    if (!l.urls.empty() && l.media_type == media::kDockerForeignLayer)
      return fail(Code::kUnimplemented,
                  "layer {} is a foreign layer served from {}: svc does not fetch foreign layers",
                  l.digest.str(), l.urls.front());
  }
  r.manifest_body = std::move(manifest_body);
  r.config_body = std::move(config_body);
  return r;
}

std::vector<LayerJob> layer_jobs(const ResolvedImage& r) {
  auto chains = chain_ids(r.config.diff_ids);
  std::vector<LayerJob> jobs;
  for (std::size_t i = 0; i < r.manifest.layers.size(); ++i)
    jobs.push_back({r.manifest.layers[i], r.config.diff_ids[i], chains[i]});
  return jobs;
}

Result<Image> commit_image(ResolvedImage r, LayerRunner& runner, ContentStore& store,
                           ImageStore& images,
                           const std::function<BlobFetchFn(const Descriptor&)>& fetch_for,
                           ProgressTracker& progress, const Cancelled& cancelled,
                           const Clock& clock) {
  auto jobs = layer_jobs(r);
  std::vector<std::pair<Digest, std::int64_t>> sizes;
  sizes.reserve(jobs.size());
  for (const auto& j : jobs) sizes.emplace_back(j.blob.digest, j.blob.size);
  progress.set_layers(sizes);
  progress.message(fmt::format("fetching {} layer{}", jobs.size(), jobs.size() == 1 ? "" : "s"));
  auto outcomes = SVC_TRY(runner.run(
      jobs, [&](std::size_t i) { return fetch_for(jobs[i].blob); }, progress, cancelled));
  SVC_TRY(inherit_implied_dirs(runner.snapshots(), jobs, outcomes));

  if (r.index) SVC_TRY(store.put(r.index->second, r.index->first));
  SVC_TRY(store.put(r.manifest_body, r.manifest_digest));
  SVC_TRY(store.put(r.config_body, r.manifest.config.digest));

  Image im;
  im.digest = r.manifest_digest;
  if (r.index) im.index_digest = r.index->first;
  im.media_type =
      r.manifest.media_type.empty() ? std::string(media::kOciManifest) : r.manifest.media_type;
  im.config_digest = r.manifest.config.digest;
  im.platform = r.config.platform;
  im.config = r.config.config;
  im.created = r.config.created;
  im.pulled_at = clock.now();
  im.size = static_cast<std::int64_t>(r.manifest_body.size() + r.config_body.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    LayerInfo li{jobs[i].blob.digest, jobs[i].diff_id,           jobs[i].chain_id,
                 jobs[i].blob.size,   outcomes[i].unpacked_size, jobs[i].blob.media_type};
    im.size += li.size;
    im.unpacked_size += li.unpacked_size;
    im.layers.push_back(std::move(li));
  }
  SVC_TRY(images.put(im));
  for (const auto& name : r.names) SVC_TRY(images.set_ref(name, im.digest));
  im.references = r.names;
  progress.message("done");
  return im;
}

}  // namespace svc::images
