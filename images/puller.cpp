#include "images/puller.hpp"

#include <spdlog/spdlog.h>

namespace svc::images {

Result<ResolvedImage> Puller::resolve(const Reference& ref, const Platform& platform,
                                      ProgressTracker& progress, const Cancelled& cancelled) {
  progress.message(fmt::format("resolving {}", ref.str()));
  auto top = SVC_TRY(client_.get_manifest(ref, ref.manifest_ref(), cancelled));
  DocumentKind kind = SVC_TRY_CTX(classify_document(top.content_type, top.body), "{}", ref.str());
  std::optional<std::pair<Digest, std::string>> index;
  registry::FetchedManifest manifest = top;
  if (kind == DocumentKind::kIndex) {
    Index idx = SVC_TRY_CTX(parse_index(top.body), "{}", ref.str());
    std::vector<std::optional<Platform>> platforms;
    for (const auto& m : idx.manifests) platforms.push_back(m.platform);
    auto chosen = choose_platform(platform, platforms);
    if (!chosen) {
      std::string offered;
      for (const auto& p : platforms)
        if (p && p->os != "unknown") offered += (offered.empty() ? "" : ", ") + p->str();
      return fail(Code::kNotFound,
                  "{} has no image for this node's platform {} (it offers: {}); pick one with "
                  "--platform",
                  ref.str(), platform.str(), offered.empty() ? "none" : offered);
    }
    const Descriptor& d = idx.manifests[*chosen];
    progress.message(fmt::format("fetching manifest for {}", platform.str()));
    manifest = SVC_TRY(client_.get_manifest(ref, d.digest.str(), cancelled));
    auto inner =
        SVC_TRY_CTX(classify_document(manifest.content_type, manifest.body), "{}", ref.str());
    if (inner != DocumentKind::kManifest)
      return fail(Code::kFailedPrecondition, "{}: the index entry {} is not an image manifest",
                  ref.str(), d.digest.str());
    index = std::make_pair(top.digest, std::move(top.body));
  }
  Manifest m = SVC_TRY_CTX(parse_manifest(manifest.body), "{}", ref.str());
  progress.message("fetching image config");
  std::string config =
      SVC_TRY_CTX(client_.get_blob(ref, m.config, cancelled), "{}: image config", ref.str());
  ResolvedImage r =
      SVC_TRY_CTX(resolve_documents(std::move(manifest.body), std::move(config)), "{}", ref.str());
  if (!index && !r.config.platform.architecture.empty() &&
      !platform_matches(platform, r.config.platform))
    return fail(Code::kFailedPrecondition,
                "{} is an image for {}, and this node asks for {}: it would not run here",
                ref.str(), r.config.platform.str(), platform.str());
  r.index = std::move(index);
  r.names.push_back(ref.str());
  return r;
}

Result<Image> Puller::pull(const Reference& ref, const Platform& platform,
                           ProgressTracker& progress, const Cancelled& cancelled) {
  ResolvedImage r = SVC_TRY(resolve(ref, platform, progress, cancelled));
  auto start = std::chrono::steady_clock::now();
  auto fetch_for = [&](const Descriptor& d) -> BlobFetchFn {
    return [this, &ref, d, &cancelled](const BlobSinkFn& sink) {
      return client_.fetch_blob(ref, d, sink, cancelled);
    };
  };
  Image im = SVC_TRY_CTX(
      commit_image(std::move(r), runner_, store_, images_, fetch_for, progress, cancelled, clock_),
      "pull {}", ref.str());
  spdlog::info("pulled {} ({}, {} layers) in {} ms", ref.str(), im.digest.short_str(),
               im.layers.size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count());
  return im;
}

}  // namespace svc::images
