#pragma once
// Garbage collection as a plan (plain data, unit-tested) computed from what is on disk:
// everything reachable from an image record or a lease is kept; every other blob and snapshot
// goes. Images themselves are chosen for removal by the caller (remove/prune) before the plan.
#include <set>
#include <vector>

#include "common/digest.hpp"
#include "images/image.hpp"
#include "images/leases.hpp"

namespace svc::images {

struct GcInput {
  std::vector<Image> images;  // the records that stay
  std::vector<Lease> leases;
  std::vector<Digest> blobs;      // present in the content store
  std::vector<Digest> snapshots;  // present in the snapshotter
};

struct GcPlan {
  std::vector<Digest> blobs;      // to delete
  std::vector<Digest> snapshots;  // to delete
};

GcPlan plan_gc(const GcInput& in);

// Whether any lease holds this image (by digest) or one of its snapshots.
bool image_leased(const Image& image, const std::vector<Lease>& leases);

}  // namespace svc::images
