#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "cli/cli_config.hpp"
#include "common/fs.hpp"

using namespace svc;
using namespace svc::cli;

namespace {
CliConfig sample() {
  CliConfig c;
  c.current = "lab";
  c.contexts["lab"] = {"tcps://node1:7070", "/etc/ca.pem", "/home/me/me.pem", "/home/me/me.key",
                       "svc_abc"};
  c.contexts["plain"] = {"tcp://127.0.0.1:7070", "", "", "", ""};
  return c;
}
}  // namespace

TEST_CASE("contexts round-trip through the file, which is 0600", "[cli_config]") {
  TempDir dir;
  auto path = dir.path() / "svc" / "config.json";
  CHECK(load_cli_config(path).value().contexts.empty());  // no file: nothing saved yet
  REQUIRE(save_cli_config(path, sample()));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto back = load_cli_config(path).value();
  CHECK(back.current == "lab");
  REQUIRE(back.contexts.size() == 2);
  CHECK(back.contexts["lab"].host == "tcps://node1:7070");
  CHECK(back.contexts["lab"].ca == "/etc/ca.pem");
  CHECK(back.contexts["lab"].token == "svc_abc");

  REQUIRE(write_file_atomic(path, "{not json"));
  auto broken = load_cli_config(path);
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message().find(path.string()) != std::string::npos);
}

TEST_CASE("endpoint: --host wins, else --context, else the current one, else the local socket",
          "[cli_config]") {
  CliConfig c = sample();
  auto current = resolve_endpoint({}, c).value();
  CHECK(current.host == "tcps://node1:7070");
  CHECK(current.tls.ca == "/etc/ca.pem");
  CHECK(current.tls.cert == "/home/me/me.pem");
  CHECK(current.token == "svc_abc");
  CHECK(current.context == "lab");

  auto flagged = resolve_endpoint({.ca = "/tmp/ca2.pem", .token = "svc_other"}, c).value();
  CHECK(flagged.host == "tcps://node1:7070");
  CHECK(flagged.token == "svc_other");
  CHECK(flagged.tls.ca == "/tmp/ca2.pem");
  CHECK(flagged.tls.key == "/home/me/me.key");

  auto named = resolve_endpoint({.context = "plain"}, c).value();
  CHECK(named.host == "tcp://127.0.0.1:7070");
  CHECK(named.token.empty());

  auto host = resolve_endpoint({.host = "tcp://10.0.0.1:1", .context = "lab"}, c).value();
  CHECK(host.host == "tcp://10.0.0.1:1");
  CHECK(host.token.empty());  // nothing of the context leaks into an explicit --host
  CHECK(host.tls.ca.empty());

  CHECK(resolve_endpoint({.context = "default"}, c).value().host == api::kDefaultHost);
  CHECK(resolve_endpoint({}, CliConfig{}).value().host == api::kDefaultHost);

  auto missing = resolve_endpoint({.context = "nope"}, c);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message().find("svctl context ls") != std::string::npos);

  c.contexts["rel"] = {"tcps://x:1", "ca.pem", "", "", ""};
  auto relative = resolve_endpoint({.context = "rel"}, c);
  REQUIRE_FALSE(relative);
  CHECK(relative.error().message().find("absolute") != std::string::npos);
}

TEST_CASE("context names", "[cli_config]") {
  CHECK(check_context_name("lab-1.eu_west"));
  CHECK_FALSE(check_context_name(""));
  CHECK_FALSE(check_context_name("default"));
  CHECK_FALSE(check_context_name("a b"));
  CHECK_FALSE(check_context_name("../x"));
  CHECK_FALSE(check_context_name(std::string(65, 'a')));
}
