// A registry on this machine's loopback works with svcd's defaults (as Docker treats
// 127.0.0.0/8), and a registry elsewhere that has no TLS gets an error naming the config line
// that fixes it. Real registry (docker-registry on 127.0.0.1), real svcd and svctl.
#include <catch2/catch.hpp>

#include "images/registry/http_client.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/image_builder.hpp"
#include "tests/support/registry_fixture.hpp"

using namespace svc;
using namespace svc::test;

TEST_CASE("a registry on 127.0.0.1 needs no [registries] config", "[images][registry]") {
  RegistryFixture reg;
  reg.start();
  std::string ref = reg.push(ImageBuilder().layer(LayerBuilder().file("hello", "hi\n")), "lo/a:1");
  DaemonFixture d;  // svcd's embedded defaults: insecure = []
  d.start();
  auto pull = d.svctl({"pull", ref}, std::chrono::seconds(120));
  INFO(pull.out << pull.err << d.log());
  CHECK(pull.exit_code == 0);
  CHECK(d.svctl({"image", "inspect", ref}).exit_code == 0);
  // The same registry by the name localhost is the loopback too.
  std::string by_name = "localhost:" + std::to_string(reg.port()) + "/lo/a:1";
  auto named = d.svctl({"pull", by_name}, std::chrono::seconds(120));
  INFO(named.err);
  CHECK(named.exit_code == 0);
}

TEST_CASE("TLS to a registry that speaks plain HTTP names the insecure line to add",
          "[images][registry]") {
  // The loopback is plain HTTP by default, so ask for TLS directly, as svcd does for any other
  // host: the registry answers the TLS hello in plain HTTP.
  RegistryFixture reg;
  reg.start();
  images::registry::HttpClient client({});
  images::registry::HttpRequest req;
  req.url = "https://" + reg.host() + "/v2/";
  auto r = client.perform(req);
  REQUIRE_FALSE(r);
  INFO(r.error().message());
  CHECK(r.error().code() == Code::kUnavailable);
  CHECK(r.error().message().find("TLS failed") != std::string::npos);
  CHECK(r.error().message().find("[registries] insecure = [\"" + reg.host() + "\"]") !=
        std::string::npos);
  CHECK(r.error().message().find("/etc/svcd/svcd.toml") != std::string::npos);
}
