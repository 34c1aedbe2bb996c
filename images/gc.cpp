#include "images/gc.hpp"

#include <algorithm>

namespace svc::images {

GcPlan plan_gc(const GcInput& in) {
  std::set<Digest> keep_blobs, keep_snaps;
  for (const auto& im : in.images) {
    keep_blobs.insert(im.digest);
    if (im.index_digest) keep_blobs.insert(*im.index_digest);
    keep_blobs.insert(im.config_digest);
    for (const auto& l : im.layers) {
      keep_blobs.insert(l.digest);
      keep_snaps.insert(l.chain_id);
    }
  }
  for (const auto& lease : in.leases) {
    for (const auto& c : lease.chain_ids) keep_snaps.insert(c);
    // A leased image digest keeps its record (the caller does not drop it), and so its content.
    for (const auto& d : lease.images) keep_blobs.insert(d);
  }
  GcPlan plan;
  for (const auto& b : in.blobs)
    if (!keep_blobs.count(b)) plan.blobs.push_back(b);
  for (const auto& s : in.snapshots)
    if (!keep_snaps.count(s)) plan.snapshots.push_back(s);
  return plan;
}

bool image_leased(const Image& image, const std::vector<Lease>& leases) {
  for (const auto& lease : leases) {
    if (std::find(lease.images.begin(), lease.images.end(), image.digest) != lease.images.end())
      return true;
    // The top snapshot's chain id names the whole stack below it.
    if (!image.layers.empty() && std::find(lease.chain_ids.begin(), lease.chain_ids.end(),
                                           image.layers.back().chain_id) != lease.chain_ids.end())
      return true;
  }
  return false;
}

}  // namespace svc::images
