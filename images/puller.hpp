#pragma once
// Pull from a registry: resolve the reference to the node's platform's manifest (through an
// index when there is one) and its config, then hand the layers to commit_image().
#include "images/platform.hpp"
#include "images/reference.hpp"
#include "images/registry/registry_client.hpp"
#include "images/resolved_image.hpp"

namespace svc::images {

class Puller {
 public:
  Puller(registry::RegistryClient& client, LayerRunner& runner, ContentStore& store,
         ImageStore& images, const Clock& clock)
      : client_(client), runner_(runner), store_(store), images_(images), clock_(clock) {}

  Result<Image> pull(const Reference& ref, const Platform& platform, ProgressTracker& progress,
                     const Cancelled& cancelled);

  // The index/manifest/config of ref for platform, without fetching layers.
  Result<ResolvedImage> resolve(const Reference& ref, const Platform& platform,
                                ProgressTracker& progress, const Cancelled& cancelled);

 private:
  registry::RegistryClient& client_;
  LayerRunner& runner_;
  ContentStore& store_;
  ImageStore& images_;
  const Clock& clock_;
};

}  // namespace svc::images
