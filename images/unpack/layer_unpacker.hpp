#pragma once
// Applies one layer's tar stream to a snapshot directory, safely (see safe_root.hpp) and in
// overlayfs form (see whiteout.hpp). Files keep the owners, modes, times, xattrs and links the
// tar gives them: files owned by uid 0 in the tar are owned by host uid 0 in the snapshot, and
// the runtime's idmapped mounts shift them for each sandbox.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "images/unpack/byte_stream.hpp"

namespace svc::images::unpack {

struct UnpackLimits {
  std::uint64_t max_entries = 1'000'000;        // tar headers in one layer
  std::uint64_t max_file_bytes = 16ULL << 30;   // one regular file
  std::uint64_t max_layer_bytes = 64ULL << 30;  // the uncompressed stream (enforced by the
                                                // Decompressor feeding us)
};

struct UnpackOptions {
  UnpackLimits limits;
  // chown to the tar's owners; off only where chown is impossible (tests without root).
  bool preserve_owners = true;
  // Set on a cancelled pull: the unpack stops at the next entry.
  std::function<bool()> cancelled = [] { return false; };
};

struct UnpackStats {
  std::uint64_t entries = 0;
  std::uint64_t file_bytes = 0;  // regular-file data written
  std::uint64_t whiteouts = 0;
  std::uint64_t opaque_dirs = 0;
  // Parent directories the tar never named, made 0755 root:root; in an overlay they would hide
  // the lower layers' own metadata for those directories, so the caller copies it over
  // (inherit_implied_dirs in layer_ingest.hpp).
  std::vector<std::string> implied_dirs;
};

// Reads a tar from tar_stream (already decompressed) and writes it beneath root_dir, which must
// exist and be empty. Stops at the tar's end-of-archive marker; the caller drains the rest.
Result<UnpackStats> unpack_tar(ByteSource& tar_stream, const std::string& root_dir,
                               const UnpackOptions& options);

}  // namespace svc::images::unpack
