#include <catch2/catch.hpp>

#include "images/reference.hpp"

using namespace svc;
using namespace svc::images;

TEST_CASE("references are normalised as docker does", "[images][reference]") {
  auto r = parse_reference("alpine");
  REQUIRE(r);
  CHECK(r->str() == "docker.io/library/alpine:latest");
  CHECK(familiar(*r) == "alpine:latest");
  CHECK(parse_reference("alpine:3")->str() == "docker.io/library/alpine:3");
  CHECK(parse_reference("user/app")->str() == "docker.io/user/app:latest");
  CHECK(parse_reference("index.docker.io/library/alpine:3")->str() == "docker.io/library/alpine:3");
  CHECK(parse_reference("localhost/app")->str() == "localhost/app:latest");
  CHECK(parse_reference("localhost:5000/a/b/c:v1.2-rc_3")->str() ==
        "localhost:5000/a/b/c:v1.2-rc_3");
  auto withport = parse_reference("127.0.0.1:5000/team/app:1");
  REQUIRE(withport);
  CHECK(withport->registry == "127.0.0.1:5000");
  CHECK(withport->repository == "team/app");
  CHECK(withport->tag == "1");
  CHECK(parse_reference("ghcr.io/org/app")->repository == "org/app");
  CHECK(parse_reference("a.b-c__d--e")->repository == "library/a.b-c__d--e");
}

TEST_CASE("digests, and tag plus digest", "[images][reference]") {
  std::string hex(64, 'a');
  auto r = parse_reference("alpine@sha256:" + hex);
  REQUIRE(r);
  CHECK(r->tag.empty());
  CHECK(r->digest->hex() == hex);
  CHECK(r->manifest_ref() == "sha256:" + hex);
  CHECK(r->str() == "docker.io/library/alpine@sha256:" + hex);
  auto both = parse_reference("r.example/x:1@sha256:" + hex);
  REQUIRE(both);
  CHECK(both->tag == "1");
  CHECK(both->manifest_ref() == "sha256:" + hex);
}

TEST_CASE("a configurable default registry", "[images][reference]") {
  auto r = parse_reference("app:1", "registry.local:5000");
  REQUIRE(r);
  CHECK(r->str() == "registry.local:5000/app:1");  // no "library/" outside docker.io
}

TEST_CASE("bad references say which part is wrong", "[images][reference]") {
  auto msg = [](std::string_view text) {
    auto r = parse_reference(text);
    REQUIRE(!r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    return r.error().message();
  };
  CHECK(msg("").find("empty") != std::string::npos);
  CHECK(msg("Alpine").find("repository path component \"Alpine\" must be lowercase") !=
        std::string::npos);
  CHECK(msg("alpine:bad tag").find("space") != std::string::npos);
  CHECK(msg("alpine:-x").find("tag \"-x\"") != std::string::npos);
  CHECK(msg("alpine:" + std::string(129, 'a')).find("longer than 128") != std::string::npos);
  CHECK(msg("alpine@sha256:abc").find("digest \"sha256:abc\"") != std::string::npos);
  CHECK(msg("a//b").find("empty") != std::string::npos);
  CHECK(msg("host:99999/x").find("registry \"host:99999\"") != std::string::npos);
  CHECK(msg("-bad.host/x").find("registry") != std::string::npos);
  CHECK(msg("a/b_-c").find("separator") != std::string::npos);
  CHECK(msg("a/b-").find("must start and end") != std::string::npos);
  CHECK(msg(std::string(300, 'a')).find("longer than 255") != std::string::npos);
}

TEST_CASE("escaped references round-trip and are safe file names", "[images][reference]") {
  for (std::string s :
       {"docker.io/library/alpine:3", "127.0.0.1:5000/a/b@sha256:00", ".hidden", "..", "x%y"}) {
    std::string e = escape_ref(s);
    CHECK(e.find('/') == std::string::npos);
    CHECK(!e.starts_with("."));
    auto back = unescape_ref(e);
    REQUIRE(back);
    CHECK(*back == s);
  }
  CHECK(!unescape_ref("%4"));
  CHECK(!unescape_ref("%zz"));
}
