// OCI hooks: the state on stdin, the listed order, exit status and timeout (/bin/sh; no root).
#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/oci_cli/hooks.hpp"

using namespace svc;
using namespace svc::isolation;
using namespace svc::isolation::oci;

namespace {

OciHook sh(const std::string& script, int timeout = 0) {
  OciHook h;
  h.path = "/bin/sh";
  h.args = {"sh", "-c", script};
  h.env = {"PATH=/usr/bin:/bin"};
  h.timeout_seconds = timeout;
  return h;
}

}  // namespace

TEST_CASE("hooks run in order with the state on stdin", "[oci][hooks]") {
  TempDir d;
  std::string out = (d.path() / "out").string();
  auto r = run_hooks({sh("cat > " + out + ".1"), sh("echo second >> " + out + ".2")},
                     R"({"id": "c1", "status": "created"})", "prestart");
  REQUIRE(r);
  CHECK(*read_file(out + ".1") == R"({"id": "c1", "status": "created"})");
  CHECK(*read_file(out + ".2") == "second\n");
}

TEST_CASE("a failing hook stops the list and is named, a hook past its timeout is killed",
          "[oci][hooks]") {
  TempDir d;
  std::string never = (d.path() / "never").string();
  auto r = run_hooks({sh("exit 3"), sh("touch " + never)}, "{}", "prestart");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("prestart hook 0") != std::string::npos);
  CHECK(r.error().message().find("status 3") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(never));
  auto slow = run_hooks({sh("exec sleep 30", 1)}, "{}", "poststop");
  REQUIRE_FALSE(slow);
  CHECK(slow.error().code() == Code::kDeadlineExceeded);
  OciHook missing;
  missing.path = "/nonexistent/hook";
  CHECK_FALSE(run_hooks({missing}, "{}", "poststart"));
}

TEST_CASE("the hooks a container keeps come back as saved", "[oci][hooks]") {
  TempDir d;
  OciHooks h;
  h.poststart = {sh("true", 4)};
  h.poststop = {sh("false")};
  REQUIRE(save_hooks(d.path(), h));
  auto back = load_hooks(d.path());
  REQUIRE(back);
  REQUIRE(back->poststart.size() == 1);
  CHECK(back->poststart[0].args == h.poststart[0].args);
  CHECK(back->poststart[0].timeout_seconds == 4);
  CHECK(back->poststop.size() == 1);
  TempDir none;
  CHECK(load_hooks(none.path())->empty());
}
