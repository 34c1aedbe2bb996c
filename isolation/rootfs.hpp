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

// How the overlay learns its lower layers.
enum class OverlayLayers {
  // "lowerdir+" once per layer (fsconfig, Linux 6.8+): any number of layers (overlayfs takes
  // up to 500; images have at most 128, as Docker's overlay2). Falls back to kMountData on a
  // kernel that does not know the key.
  kAuto,
  // Kernels before 6.8: one "lowerdir=" string. fsconfig(FSCONFIG_SET_STRING) takes at most 256
  // bytes of it (about 15 layers of /proc/self/fd/N), so the overlay is made with mount(2),
  // whose option page holds 4096 bytes (128 layers of /proc/self/fd/NNNN fit), in a helper
  // process with a mount namespace of its own, and handed back detached (open_tree): nothing is
  // ever mounted in the host's namespace. Forced by tests to cover old kernels.
  kMountData,
};

// The root: an overlay of the idmapped layers, or the one idmapped directory (no overlay).
// Returns a detached mount fd (close-on-exec). userns_fd: the sandbox's user namespace.
Result<UniqueFd> prepare_rootfs(const RootfsPlan& rootfs, int userns_fd,
                                const std::filesystem::path& proc = "/proc",
                                OverlayLayers layers = OverlayLayers::kAuto);

// The mount(2) data for an overlay: "lowerdir=<top>:...:<bottom>,upperdir=U,workdir=W".
// INVALID_ARGUMENT when it does not fit in a page (4095 bytes and the NUL).
Result<std::string> overlay_mount_data(const std::vector<std::string>& lower_bottom_to_top,
                                       const std::string& upper, const std::string& work);

// A user bind mount: a clone of the source with its attributes (read-only, nosuid, ...) and,
// when asked, idmapped into the sandbox.
Result<UniqueFd> prepare_bind(const BindSource& bind, int userns_fd);

}  // namespace svc::isolation
