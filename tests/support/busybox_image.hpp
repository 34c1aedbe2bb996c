#pragma once
// A small real image for task tests: Debian's busybox-static with a symlink per applet, an
// /etc/passwd and /etc/group, and the usual empty directories. Cmd is /bin/sh.
#include <string>

#include "tests/support/image_builder.hpp"
#include "tests/support/registry_fixture.hpp"

namespace svc::test {

ImageBuilder busybox_image(LayerCompression compression = LayerCompression::kGzip);

// One real registry per test process, started on first use, holding busybox_image() as
// `image` (e2e/busybox:1): what most e2e tests pull.
struct BusyboxRegistry {
  RegistryFixture registry;
  std::string image;
  BusyboxRegistry();
};
BusyboxRegistry& busybox_registry();

// svcd.toml lines that let a daemon pull from the registry over plain HTTP.
std::string insecure_registry_toml(const RegistryFixture& registry);

}  // namespace svc::test
