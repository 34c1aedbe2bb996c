#pragma once
// Snapshots: one directory per layer chain, <root>/snapshots/<chain id hex>/, holding that
// layer's files in overlayfs form. The runtime stacks them as overlay lower dirs (bottom to top),
// so a layer is unpacked once and shared by every image that has the same chain. A snapshot is
// unpacked into a temp dir (.tmp-<hex>-<random>) and renamed into place only when complete and
// verified; removal renames it to .trash-… first, so a half-deleted snapshot is never seen under
// its name.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "common/digest.hpp"
#include "common/result.hpp"

namespace svc::images {

class Snapshotter {
 public:
  // How a finished temp dir's files reach the disk before the rename that names it: syncfs(2)
  // on its file system (one flush for the whole layer, rather than an fsync per file). A test
  // passes a recording one. Returns 0 or an errno.
  using SyncFn = std::function<int(int dir_fd)>;
  // The images root; uses root/snapshots.
  explicit Snapshotter(const std::filesystem::path& root, SyncFn sync = {});

  // Creates the directory; removes temp and trash dirs a crash left behind.
  Result<> init();

  std::filesystem::path path(const Digest& chain_id) const;
  bool has(const Digest& chain_id) const;

  // A fresh empty temp dir for unpacking chain_id.
  Result<std::filesystem::path> prepare(const Digest& chain_id);
  // Syncs tmp's files to disk, then renames tmp to the snapshot's name (and syncs the parent),
  // so a crash never leaves a named snapshot with missing data. When another pull committed it
  // first, tmp is dropped.
  Result<> commit(const std::filesystem::path& tmp, const Digest& chain_id);
  // Removes a temp dir (after a failed unpack).
  void discard(const std::filesystem::path& tmp);

  std::vector<Digest> list() const;
  // Returns the bytes freed (file data; 0 when absent).
  Result<std::int64_t> remove(const Digest& chain_id);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  SyncFn sync_;
};

// Bytes of regular-file data beneath dir (hard links counted once).
std::int64_t disk_usage(const std::filesystem::path& dir);

}  // namespace svc::images
