#pragma once
// An image's "User" (OCI image config: "", "1000", "1000:1000", "nginx", "nginx:www-data",
// "nginx:33") turned into the uid, gid and supplementary groups a sandbox runs as, read from
// the image's own /etc/passwd and /etc/group as Docker does. The files are read from the
// topmost layer that has them, each opened inside its layer (a symlinked /etc/passwd cannot
// point at the host's).
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::isolation {

struct ImageUser {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> additional_gids;  // groups in /etc/group that list the user
};

// layers: bottom -> top (the snapshot dirs of the image). NOT_FOUND for a name the image does
// not define.
Result<ImageUser> resolve_image_user(const std::vector<std::filesystem::path>& layers,
                                     std::string_view user);

}  // namespace svc::isolation
