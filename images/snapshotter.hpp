#pragma once
// Snapshots: one directory per layer chain, <root>/snapshots/<chain id hex>/, holding that
// layer's files in overlayfs form. The runtime stacks them as overlay lower dirs (bottom to top),
// so a layer is unpacked once and shared by every image that has the same chain. A snapshot is
// unpacked into a temp dir (.tmp-<hex>-<random>) and renamed into place only when complete and
// verified; removal renames it to .trash-… first, so a half-deleted snapshot is never seen under
// its name.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "common/digest.hpp"
#include "common/result.hpp"

namespace svc::images {

class Snapshotter {
 public:
  explicit Snapshotter(const std::filesystem::path& root);  // the images root; uses root/snapshots

  // Creates the directory; removes temp and trash dirs a crash left behind.
  Result<> init();

  std::filesystem::path path(const Digest& chain_id) const;
  bool has(const Digest& chain_id) const;

  // A fresh empty temp dir for unpacking chain_id.
  Result<std::filesystem::path> prepare(const Digest& chain_id);
  // Renames tmp to the snapshot's name. When another pull committed it first, tmp is dropped.
  Result<> commit(const std::filesystem::path& tmp, const Digest& chain_id);
  // Removes a temp dir (after a failed unpack).
  void discard(const std::filesystem::path& tmp);

  std::vector<Digest> list() const;
  // Returns the bytes freed (file data; 0 when absent).
  Result<std::int64_t> remove(const Digest& chain_id);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// Bytes of regular-file data beneath dir (hard links counted once).
std::int64_t disk_usage(const std::filesystem::path& dir);

}  // namespace svc::images
