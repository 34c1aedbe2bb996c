#pragma once
// Platforms (os/architecture/variant) in the OCI image-index vocabulary (GOOS/GOARCH names), the
// node's own platform, and the choice of one manifest from an index.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::images {

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"
  std::string variant;       // "v7", "v8", "" (OCI image-index.md: variant is optional)
  std::string str() const;   // "linux/arm/v7", "linux/amd64"
  bool empty() const { return os.empty() && architecture.empty(); }
  friend bool operator==(const Platform&, const Platform&) = default;
};

// "linux/amd64", "linux/arm64/v8", "amd64" (os defaults to linux). Architecture aliases people
// type (x86_64, aarch64, armhf) are normalised to the Go names registries use.
Result<Platform> parse_platform(std::string_view text);

// This node's platform from uname(2) (machine -> GOARCH), with the default variant filled in.
Platform host_platform();

// Normalises architecture aliases and fills the default variant (arm64 -> v8, arm -> v7).
Platform normalize(Platform p);

// Whether an index entry's platform can run where `want` is asked for. Variants follow the
// containerd matcher's rule: an entry without a variant matches; arm64 "v8" equals "".
bool platform_matches(const Platform& want, const Platform& have);

// Picks the best entry from candidates (an index's manifests' platforms): an exact variant match
// beats an entry without a variant. Returns the index into candidates, or nullopt.
std::optional<std::size_t> choose_platform(const Platform& want,
                                           const std::vector<std::optional<Platform>>& candidates);

}  // namespace svc::images
