#include "tests/support/busybox_image.hpp"

#include <sstream>

#include "tests/support/process.hpp"

namespace svc::test {

ImageBuilder busybox_image(LayerCompression compression) {
  LayerBuilder layer(compression);
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "root", "var", "var/tmp"}) layer.dir(d);
  layer.dir("tmp", 01777);
  layer.file_from("bin/busybox", "/bin/busybox", 0755);
  std::istringstream applets(run({"/bin/busybox", "--list"}).out);
  std::string applet;
  while (applets >> applet)
    if (applet != "busybox") layer.symlink("bin/" + applet, "busybox");
  layer.file("etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  layer.file("etc/group", "root:x:0:\nnogroup:x:65534:\n");
  ImageBuilder image;
  image.layer(layer);
  image.config().cmd = {"/bin/sh"};
  image.config().env = {"PATH=/bin"};
  return image;
}

BusyboxRegistry::BusyboxRegistry() {
  registry.start();
  image = registry.push(busybox_image(), "e2e/busybox:1");
}

BusyboxRegistry& busybox_registry() {
  static BusyboxRegistry r;
  return r;
}

std::string insecure_registry_toml(const RegistryFixture& registry) {
  return "[registries]\ninsecure = [\"" + registry.host() + "\"]\n";
}

}  // namespace svc::test
