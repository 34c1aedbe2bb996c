#pragma once
// Leases: what a live task holds, so garbage collection never removes an image record or a
// snapshot it runs on — also after svcd restarts, because leases are files
// (<root>/images/leases/<holder>.json, written atomically). The task controller takes a lease
// when it creates a task (holder = the task id) and releases it when the task is deleted.
#include <filesystem>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/result.hpp"

namespace svc::images {

struct Lease {
  std::string holder;             // [A-Za-z0-9._-]{1,128}, e.g. a task id
  std::vector<Digest> images;     // manifest digests
  std::vector<Digest> chain_ids;  // snapshots the holder's rootfs stacks
};

class LeaseStore {
 public:
  explicit LeaseStore(
      const std::filesystem::path& root);  // the images root; uses root/images/leases
  Result<> init();
  // Adds to the holder's lease (creates it when new).
  Result<> add(const Lease& lease);
  // Drops the holder's lease; NotFound when it held none.
  Result<> release(const std::string& holder);
  Result<std::vector<Lease>> list() const;

 private:
  std::filesystem::path dir_;
};

Result<> validate_holder(std::string_view holder);

}  // namespace svc::images
