#pragma once
// A small real image for task tests: Debian's busybox-static with a symlink per applet, an
// /etc/passwd and /etc/group, and the usual empty directories. Cmd is /bin/sh.
#include "tests/support/image_builder.hpp"

namespace svc::test {

ImageBuilder busybox_image(LayerCompression compression = LayerCompression::kGzip);

}  // namespace svc::test
