#pragma once
// The host's part of a sandbox's mounts, made by the runtime once the sandbox's user namespace
// exists: each image layer cloned (open_tree) and idmapped into that namespace — files owned by
// uid 0 in the layer show as the sandbox's root, with no chown of the shared layers — and an
// overlay over the clones with the sandbox's private upper dir. (Idmapping the overlay mount
// itself fails with EINVAL; idmapped lower layers under an overlay work.) The results are
// detached mounts, sent as fds to the sandbox's first process, which attaches them inside its
// own mount namespace: nothing is ever mounted in the host's namespace, so nothing there can
// leak or need unmounting.
#include <filesystem>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/plan.hpp"

namespace svc::isolation {

// The root: an overlay of the idmapped layers, or the one idmapped directory (no overlay).
// Returns a detached mount fd (close-on-exec). userns_fd: the sandbox's user namespace.
Result<UniqueFd> prepare_rootfs(const RootfsPlan& rootfs, int userns_fd,
                                const std::filesystem::path& proc = "/proc");

// A user bind mount: a clone of the source with its attributes (read-only, nosuid, ...) and,
// when asked, idmapped into the sandbox.
Result<UniqueFd> prepare_bind(const BindSource& bind, int userns_fd);

}  // namespace svc::isolation
