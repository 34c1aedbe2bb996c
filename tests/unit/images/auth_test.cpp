#include <catch2/catch.hpp>

#include "images/registry/auth.hpp"
#include "images/registry/options.hpp"

using namespace svc;
using namespace svc::images::registry;

TEST_CASE("WWW-Authenticate challenges parse", "[images][registry]") {
  auto c = parse_challenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull")");
  REQUIRE(c);
  CHECK(c->scheme == "bearer");
  CHECK(c->params["realm"] == "https://auth.example/token");
  CHECK(c->params["service"] == "registry.example");
  CHECK(c->params["scope"] == "repository:a/b:pull");
  auto b = parse_challenge(R"(Basic realm="Registry Realm")");
  REQUIRE(b);
  CHECK(b->scheme == "basic");
  CHECK(b->params["realm"] == "Registry Realm");
  auto esc = parse_challenge(R"(Bearer realm="a\"b", error="invalid_token")");
  REQUIRE(esc);
  CHECK(esc->params["realm"] == "a\"b");
  CHECK(esc->params["error"] == "invalid_token");
  CHECK(!parse_challenge(""));
  CHECK(!parse_challenge(R"(Bearer realm="unterminated)"));
}

TEST_CASE("credentials from a docker config.json", "[images][registry]") {
  std::string auth = base64_encode("alice:s3cr:et");
  auto s = CredentialStore::parse(R"({"auths":{"https://index.docker.io/v1/":{"auth":")" + auth +
                                  R"("},"127.0.0.1:5000":{"username":"bob","password":"pw"}}})");
  REQUIRE(s);
  auto hub = s->find("docker.io");
  REQUIRE(hub);
  CHECK(hub->username == "alice");
  CHECK(hub->password == "s3cr:et");
  CHECK(s->find("127.0.0.1:5000")->username == "bob");
  CHECK(!s->find("ghcr.io"));
  CHECK(!CredentialStore::parse("[]"));
  CHECK(!CredentialStore::parse(R"({"auths":{"x":{"auth":"bm9jb2xvbg=="}}})"));  // "nocolon"
  CHECK(*base64_decode(base64_encode("a")) == "a");
  CHECK(*base64_decode(base64_encode("ab")) == "ab");
  CHECK(*base64_decode(base64_encode("abc")) == "abc");
}

TEST_CASE("endpoints: mirrors first, docker.io's API host, insecure over http",
          "[images][registry]") {
  RegistryOptions o;
  o.mirrors["docker.io"] = {"https://mirror.example/", "http://m2.example"};
  o.insecure = {"127.0.0.1:5000"};
  auto eps = endpoints_for(o, "docker.io");
  REQUIRE(eps.size() == 3);
  CHECK(eps[0].base_url == "https://mirror.example");
  CHECK(eps[0].mirror);
  CHECK(eps[2].base_url == "https://registry-1.docker.io");
  CHECK(!eps[2].mirror);
  CHECK(endpoints_for(o, "127.0.0.1:5000")[0].base_url == "http://127.0.0.1:5000");
  CHECK(endpoints_for(o, "ghcr.io")[0].base_url == "https://ghcr.io");
}

TEST_CASE("registries on this machine's loopback are plain HTTP without being listed",
          "[images][registry]") {
  RegistryOptions o;  // insecure = [] as svcd's defaults
  for (const char* r : {"127.0.0.1:5000", "127.0.0.1", "127.8.9.10:443", "localhost:5000",
                        "localhost", "[::1]:5000", "[::1]"}) {
    INFO(r);
    CHECK(is_loopback_registry(r));
    CHECK(endpoints_for(o, r).back().base_url == std::string("http://") + r);
  }
  // Anything else stays on TLS unless listed: other addresses, names that only look local,
  // shortened or hex forms that are not dotted quads.
  for (const char* r : {"10.0.0.5:5000", "128.0.0.1:5000", "localhost.example.com:5000",
                        "127.0.0.1.example.com", "127.1:5000", "0x7f.0.0.1", "[::2]:5000",
                        "[::ffff:10.0.0.1]", "[::1", "docker.io", "registry.local"}) {
    INFO(r);
    CHECK_FALSE(is_loopback_registry(r));
    CHECK(endpoints_for(o, r).back().base_url.starts_with("https://"));
  }
  o.insecure = {"10.0.0.5:5000"};
  CHECK(endpoints_for(o, "10.0.0.5:5000")[0].base_url == "http://10.0.0.5:5000");
}
