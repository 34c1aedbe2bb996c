#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/image_user.hpp"

using namespace svc;
using namespace svc::isolation;
namespace fs = std::filesystem;

namespace {
void put(const fs::path& p, std::string_view text) {
  REQUIRE(make_dirs(p.parent_path()));
  REQUIRE(write_file_atomic(p, text));
}
}  // namespace

TEST_CASE("an image's user is resolved from its own passwd and group files", "[image_user]") {
  TempDir d;
  fs::path base = d.path() / "base", top = d.path() / "top";
  put(base / "etc/passwd", "root:x:0:0::/root:/bin/sh\nold:x:500:500::/:/bin/sh\n");
  put(top / "etc/passwd", "root:x:0:0::/root:/bin/sh\nnginx:x:101:101::/var/www:/bin/false\n");
  put(top / "etc/group", "root:x:0:\nnginx:x:101:\nwww-data:x:33:nginx\nlogs:x:4:nginx,other\n");
  std::vector<fs::path> layers = {base, top};
  auto n = resolve_image_user(layers, "nginx");
  REQUIRE(n);
  CHECK(n->uid == 101);
  CHECK(n->gid == 101);
  CHECK(n->additional_gids == std::vector<std::uint32_t>{33, 4});
  CHECK(resolve_image_user(layers, "nginx:www-data")->gid == 33);
  CHECK(resolve_image_user(layers, "nginx:7")->gid == 7);
  CHECK(resolve_image_user(layers, "101")->gid == 101);
  CHECK(resolve_image_user(layers, "4242")->uid == 4242);  // numeric: need not exist
  CHECK(resolve_image_user(layers, "4242")->gid == 0);
  CHECK(resolve_image_user(layers, "")->uid == 0);
  // The top layer's passwd wins: "old" was only in the base layer's.
  CHECK(resolve_image_user(layers, "old").error().code() == Code::kNotFound);
  CHECK(resolve_image_user(layers, "nginx:nogroup").error().code() == Code::kNotFound);
}

TEST_CASE("a symlinked /etc/passwd stays inside its layer", "[image_user]") {
  TempDir d;
  fs::path layer = d.path() / "layer";
  REQUIRE(make_dirs(layer / "etc"));
  // Absolute and climbing links both resolve inside the layer, never to the host's file.
  fs::create_symlink("/../../../../etc/passwd", layer / "etc/passwd");
  CHECK(resolve_image_user({layer}, "root").error().code() == Code::kNotFound);
}
