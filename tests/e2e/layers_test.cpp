// Images of many layers through svcd and svctl: 1, 16, 40 and 128 layers (Docker's overlay2
// runs up to 128), built with image_builder, pushed to the real registry, run as tasks. Root.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;

namespace {

// busybox plus n-1 small layers: layer i adds /layers/<i> and replaces /top with "i".
ImageBuilder layered_image(int n) {
  ImageBuilder image = busybox_image();
  for (int i = 1; i < n; ++i)
    image.layer(LayerBuilder()
                    .dir("layers")
                    .file("layers/" + std::to_string(i), std::to_string(i))
                    .file("top", std::to_string(i)));
  return image;
}

}  // namespace

TEST_CASE("svctl run starts images of 1, 16, 40 and 128 layers", "[e2e][layers]") {
  SVC_SKIP_UNLESS_ROOT();
  RegistryFixture registry;
  registry.start();
  DaemonFixture::Options o;
  o.extra_config = fmt::format("[registries]\ninsecure = [\"{}\"]\n", registry.host());
  DaemonFixture d(o);
  d.start();
  for (int n : {1, 16, 40, 128}) {
    std::string ref = registry.push(layered_image(n), fmt::format("e2e/layers{}:1", n));
    auto r = d.svctl({"run", ref, "--", "sh", "-c",
                      "echo count=$(ls /layers 2>/dev/null | wc -l) top=$(cat /top 2>/dev/null)"});
    INFO(n << " layers: " << r.err << d.log());
    CHECK(r.exit_code == 0);
    CHECK(r.out == (n == 1 ? std::string("count=0 top=\n")
                           : fmt::format("count={} top={}\n", n - 1, n - 1)));
  }
}
