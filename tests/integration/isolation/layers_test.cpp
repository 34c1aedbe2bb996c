// Images of many layers (root; real overlayfs): 1, 16, 40 and 128 layers, through lowerdir+
// (Linux 6.8+) and through the pre-6.8 path (mount(2) with a page of options), forced.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/fs.hpp"
#include "tests/support/sandbox_fixture.hpp"

using namespace svc;
using namespace svc::isolation;
namespace fs = std::filesystem;

namespace {

// Layer 0 is the busybox root; layer i (1..n-1) adds /layers/<i> and replaces /top with "i",
// so the task sees every layer and the top one wins.
std::vector<fs::path> make_layers(const fs::path& base, const fs::path& busybox, int n) {
  std::vector<fs::path> out = {busybox};
  for (int i = 1; i < n; ++i) {
    fs::path l = base / ("l" + std::to_string(i));
    fs::create_directories(l / "layers");
    std::ofstream(l / "layers" / std::to_string(i)) << i;
    std::ofstream(l / "top") << i;
    out.push_back(l);
  }
  return out;
}

void run_layers(test::SandboxFixture& fx, Runtime& rt, int n) {
  TempDir dir("svc-layers-");
  auto spec = fx.spec({"sh", "-c", "echo count=$(ls /layers 2>/dev/null | wc -l) top=$(cat /top)"});
  spec.rootfs.lower = make_layers(dir.path(), fx.rootfs(), n);
  std::string id = fx.next_id("layers");
  CreateOptions start;
  start.start = true;
  auto created = rt.create(id, spec, start);
  INFO(n << " layers: " << (created ? std::string() : created.error().message()));
  REQUIRE(created);
  auto exit = rt.wait(id, std::chrono::seconds(30));
  REQUIRE(exit);
  CHECK(exit->exit_code == 0);
  std::string want = n == 1 ? "count=0 top=" : fmt::format("count={} top={}", n - 1, n - 1);
  INFO(fx.log_text(id));
  CHECK(fx.log_text(id).find(want) != std::string::npos);
  REQUIRE(rt.remove(id, true));
}

}  // namespace

TEST_CASE("images of 1, 16, 40 and 128 layers start (lowerdir+)", "[layers]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  for (int n : {1, 16, 40, 128}) run_layers(fx, fx.runtime(), n);
}

TEST_CASE("images of 1, 16, 40 and 128 layers start on the pre-6.8 path (mount data page)",
          "[layers]") {
  test::SandboxFixture fx;
  if (!fx.usable()) return;
  auto rt =
      fx.make_runtime([](RuntimeOptions& o) { o.overlay_layers = OverlayLayers::kMountData; });
  for (int n : {1, 16, 40, 128}) run_layers(fx, *rt, n);
  // Nothing of it stayed mounted in the host's namespace.
  for (const auto& line : test::mount_lines()) CHECK(line.find("svc-layers-") == std::string::npos);
}

TEST_CASE("the pre-6.8 overlay options say clearly when they outgrow a page", "[layers]") {
  std::vector<std::string> many(300, "/proc/self/fd/1234");
  auto r = overlay_mount_data(many, "/u", "/w");
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kInvalidArgument);
  CHECK(r.error().message().find("6.8") != std::string::npos);
  auto ok = overlay_mount_data({"/a", "/b"}, "/u", "/w");
  REQUIRE(ok);
  CHECK(*ok == "lowerdir=/b:/a,upperdir=/u,workdir=/w");
}
