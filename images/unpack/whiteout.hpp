#pragma once
// OCI whiteouts (image-spec layer.md "Whiteouts") and their overlayfs form, as a plan that is
// plain data (unit-tested without root) and applied by the layer unpacker:
//   ".wh.NAME"        -> a character device 0:0 named NAME (overlayfs whiteout; kernel
//                        Documentation/filesystems/overlayfs.rst "whiteouts and opaque dirs")
//   "DIR/.wh..wh..opq" -> xattr trusted.overlay.opaque="y" on DIR
// Other ".wh..wh." names are AUFS bookkeeping (hard-link dirs) and are skipped.
#include <string>
#include <string_view>

namespace svc::images::unpack {

inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
inline constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

struct EntryPlan {
  enum class Kind {
    kNormal,    // create path as the tar says
    kWhiteout,  // make path a 0:0 character device
    kOpaque,    // mark directory path opaque
    kSkip,      // AUFS metadata: nothing to do
  };
  Kind kind = Kind::kNormal;
  std::string path;  // cleaned; for kWhiteout the path hidden, for kOpaque the directory
  friend bool operator==(const EntryPlan&, const EntryPlan&) = default;
};

// clean_path is the output of clean_entry_path().
EntryPlan plan_entry(std::string_view clean_path);

}  // namespace svc::images::unpack
