// The TCP API as a remote user meets it: a real svcd with TLS on 127.0.0.1 (certificates made
// by the test), the real svctl with --host tcps:// and curl for REST. Tokens (none, wrong,
// revoked, expired, right) over both gRPC and REST; plain HTTP and the wrong CA refused;
// client certificates mapped to the caller and required when configured; the certificate
// rotated with SIGHUP; failed authentication limited per peer and logged without the secret;
// a non-loopback address without TLS refused at start.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_fixture.hpp"
#include "tests/support/test_pki.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The PEM files of one test: a CA and svcd's certificate from it, in a temp dir.
struct Pki {
  TempDir dir;
  TestCa ca{"svc test CA"};
  Pki() {
    auto server = ca.server("localhost");
    write_pem(path("server.pem"), server.cert);
    write_pem(path("server.key"), server.key, 0600);
    write_pem(path("ca.pem"), ca.cert_pem());
  }
  std::string path(const std::string& name) const { return (dir.path() / name).string(); }
  std::string api_config(const std::string& extra = "") const {
    return fmt::format("[api]\ntcp = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n{}",
                       path("server.pem"), path("server.key"), extra);
  }
};

int tcp_port_of(const DaemonFixture& d) {
  std::string log;
  REQUIRE(wait_for(
      [&] {
        log = d.log();
        return log.find("tcp port ") != std::string::npos;
      },
      10s));
  return std::atoi(log.c_str() + log.find("tcp port ") + 9);
}

// curl: the HTTP status (000 when none) in exit_code, the body in out.
RunResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-s", "-w", "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv);
  auto nl = r.out.rfind('\n');
  r.exit_code = nl == std::string::npos ? 0 : std::atoi(r.out.c_str() + nl + 1);
  if (nl != std::string::npos) r.out.resize(nl);
  return r;
}

std::string create_token(const DaemonFixture& d, const std::string& name,
                         const std::string& ttl = "") {
  std::vector<std::string> args = {"token", "create", name};
  if (!ttl.empty()) args.insert(args.end(), {"--ttl", ttl});
  auto r = d.svctl(args);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

std::string token_id(const std::string& token) { return token.substr(4, 12); }

}  // namespace

TEST_CASE("TLS API: tokens over gRPC and REST, plain HTTP and the wrong CA refused",
          "[daemon][tls]") {
  Pki pki;
  DaemonFixture::Options o;
  o.extra_config = pki.api_config();
  DaemonFixture d(o);
  d.start();
  int port = tcp_port_of(d);
  CHECK(d.log().find("TLS, certificate CN=localhost,O=svc tests") != std::string::npos);
  const std::string host = fmt::format("tcps://127.0.0.1:{}", port);
  const std::string url = fmt::format("https://127.0.0.1:{}", port);
  auto svctl = [&](std::vector<std::string> args, const std::string& token) {
    std::vector<std::string> argv = {svctl_path(), "--host", host, "--ca", pki.path("ca.pem")};
    if (!token.empty()) argv.insert(argv.end(), {"--token", token});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 30s, {{"SVC_TOKEN", ""}});
  };
  auto https = [&](const std::string& path, const std::string& token) {
    std::vector<std::string> args = {"--cacert", pki.path("ca.pem"), url + path};
    if (!token.empty()) args.insert(args.end(), {"-H", "Authorization: Bearer " + token});
    return curl(args);
  };

  std::string token = create_token(d, "ci");
  // Right token: both protocols on the one TLS port.
  auto info = svctl({"node", "info", "-o", "json"}, token);
  INFO(info.err << d.log());
  REQUIRE(info.exit_code == 0);
  CHECK(json::parse(info.out).contains("kernel"));
  auto rest = https("/v1/node", token);
  REQUIRE(rest.exit_code == 200);
  CHECK(json::parse(rest.out).contains("kernel"));
  CHECK(https("/healthz", "").out == "ok\n");

  // No token, a wrong one: 401 over REST, UNAUTHENTICATED (svctl exit 4) over gRPC.
  CHECK(https("/v1/node", "").exit_code == 401);
  std::string wrong = token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  CHECK(https("/v1/node", wrong).exit_code == 401);
  auto none = svctl({"node", "info"}, "");
  CHECK(none.exit_code == 4);
  CHECK(none.err.find("token") != std::string::npos);
  CHECK(svctl({"node", "info"}, "svc_000000000000_" + std::string(48, '0')).exit_code == 4);

  // Revoked.
  std::string doomed = create_token(d, "doomed");
  CHECK(https("/v1/node", doomed).exit_code == 200);
  REQUIRE(d.svctl({"token", "revoke", token_id(doomed)}).exit_code == 0);
  CHECK(https("/v1/node", doomed).exit_code == 401);
  CHECK(svctl({"node", "info"}, doomed).exit_code == 4);

  // Expired: good until its time is up, refused after.
  std::string brief = create_token(d, "brief", "2s");
  CHECK(svctl({"node", "info"}, brief).exit_code == 0);
  CHECK(wait_for([&] { return https("/v1/node", brief).exit_code == 401; }, 20s));
  CHECK(svctl({"node", "info"}, brief).exit_code == 4);

  // Plain HTTP to the TLS port: a 400 that says what to use.
  auto plain = curl({fmt::format("http://127.0.0.1:{}/v1/node", port)});
  CHECK(plain.exit_code == 400);
  CHECK(plain.out.find("speaks TLS") != std::string::npos);
  // svctl with tcp:// (no TLS) to it fails; so does a client that trusts another CA.
  auto cleartext = run({svctl_path(), "--host", fmt::format("tcp://127.0.0.1:{}", port), "--token",
                        token, "node", "info"});
  CHECK(cleartext.exit_code != 0);
  TestCa other("another CA");
  write_pem(pki.path("other-ca.pem"), other.cert_pem());
  auto wrong_ca = run({svctl_path(), "--host", host, "--ca", pki.path("other-ca.pem"), "--token",
                       token, "node", "info"});
  CHECK(wrong_ca.exit_code == 3);
  CHECK(wrong_ca.err.find("over TLS") != std::string::npos);
  CHECK(curl({"--cacert", pki.path("other-ca.pem"), url + "/v1/node"}).exit_code == 0);

  // A mutating call over TLS is audited as the token, from the peer's address.
  CHECK(svctl({"stop", "ghost"}, token).exit_code == 5);
  auto audit = json::parse(d.svctl({"audit", "-o", "json"}).out)["events"];
  REQUIRE(!audit.empty());
  CHECK(audit[0]["method"] == "svc.v1.Tasks/Stop");
  CHECK(audit[0]["principal"] == "token:ci");
  CHECK(audit[0]["peer"].get<std::string>().starts_with("127.0.0.1:"));
  // The store never holds a token in clear, nor does the log.
  auto db = run({"sh", "-c", "cat \"$1\"/svcd.db* | grep -c -a \"$2\" || true", "sh",
                 d.state_dir().string(), token.substr(17)});
  CHECK(db.out == "0\n");
  CHECK(d.log().find(token.substr(17)) == std::string::npos);
}

TEST_CASE("TLS API: client certificates name the caller and are required when configured",
          "[daemon][tls]") {
  Pki pki;
  TestCa clients("clients CA");
  write_pem(pki.path("clients.pem"), clients.cert_pem());
  auto ops = clients.client("ops");
  write_pem(pki.path("ops.pem"), ops.cert);
  write_pem(pki.path("ops.key"), ops.key, 0600);
  TestCa rogue("rogue CA");
  auto fake = rogue.client("ops");
  write_pem(pki.path("fake.pem"), fake.cert);
  write_pem(pki.path("fake.key"), fake.key, 0600);

  DaemonFixture::Options o;
  o.extra_config = pki.api_config(
      fmt::format("client_ca = \"{}\"\nrequire_client_cert = true\n", pki.path("clients.pem")));
  DaemonFixture d(o);
  d.start();
  int port = tcp_port_of(d);
  CHECK(d.log().find("client certificate required") != std::string::npos);
  const std::string host = fmt::format("tcps://127.0.0.1:{}", port);
  const std::string url = fmt::format("https://127.0.0.1:{}/v1/node", port);
  std::string token = create_token(d, "ci");

  // The certificate is the identity: no token needed.
  auto with_cert = run({svctl_path(), "--host", host, "--ca", pki.path("ca.pem"), "--cert",
                        pki.path("ops.pem"), "--key", pki.path("ops.key"), "stop", "ghost"},
                       30s, {{"SVC_TOKEN", ""}});
  INFO(with_cert.err << d.log());
  CHECK(with_cert.exit_code == 5);  // reached svcd, which knows no task ghost
  auto audit = json::parse(d.svctl({"audit", "-o", "json"}).out)["events"];
  REQUIRE(!audit.empty());
  CHECK(audit[0]["principal"] == "cert:CN=ops,O=svc tests");
  CHECK(curl({"--cacert", pki.path("ca.pem"), "--cert", pki.path("ops.pem"), "--key",
              pki.path("ops.key"), url})
            .exit_code == 200);

  // Required: a token alone is not enough, and a certificate from another CA is refused.
  auto token_only =
      run({svctl_path(), "--host", host, "--ca", pki.path("ca.pem"), "--token", token, "ps"});
  CHECK(token_only.exit_code == 3);
  CHECK(curl({"--cacert", pki.path("ca.pem"), "-H", "Authorization: Bearer " + token, url})
            .exit_code == 0);
  CHECK(curl({"--cacert", pki.path("ca.pem"), "--cert", pki.path("fake.pem"), "--key",
              pki.path("fake.key"), url})
            .exit_code == 0);
  CHECK(wait_for([&] { return d.log().find("client certificate refused") != std::string::npos; },
                 10s));
}

TEST_CASE("TLS API: SIGHUP rotates the certificate, and a broken rotation keeps the old one",
          "[daemon][tls]") {
  Pki pki;
  DaemonFixture::Options o;
  o.extra_config = pki.api_config();
  DaemonFixture d(o);
  d.start();
  const std::string url = fmt::format("https://127.0.0.1:{}/healthz", tcp_port_of(d));
  TestCa next("next CA");
  write_pem(pki.path("next-ca.pem"), next.cert_pem());
  CHECK(curl({"--cacert", pki.path("ca.pem"), url}).exit_code == 200);

  auto rotated = next.server("localhost");
  write_pem(pki.path("server.pem"), rotated.cert);
  write_pem(pki.path("server.key"), rotated.key, 0600);
  CHECK(curl({"--cacert", pki.path("next-ca.pem"), url}).exit_code == 0);  // not reloaded yet
  REQUIRE(::kill(d.pid(), SIGHUP) == 0);
  REQUIRE(
      wait_for([&] { return d.log().find("TLS certificate reloaded") != std::string::npos; }, 10s));
  CHECK(curl({"--cacert", pki.path("next-ca.pem"), url}).exit_code == 200);
  CHECK(curl({"--cacert", pki.path("ca.pem"), url}).exit_code == 0);

  // Half a rotation: a key that is not the certificate's. svcd says so and keeps serving.
  write_pem(pki.path("server.key"), next.server("x").key, 0600);
  REQUIRE(::kill(d.pid(), SIGHUP) == 0);
  REQUIRE(wait_for([&] { return d.log().find("is not the key") != std::string::npos; }, 10s));
  CHECK(curl({"--cacert", pki.path("next-ca.pem"), url}).exit_code == 200);
  CHECK(d.running());
}

TEST_CASE("TCP API: failed authentication is limited per peer and logged without the secret",
          "[daemon][tls]") {
  Pki pki;
  DaemonFixture::Options o;
  o.extra_config = pki.api_config();
  DaemonFixture d(o);
  d.start();
  const int port = tcp_port_of(d);
  const std::string url = fmt::format("https://127.0.0.1:{}/v1/node", port);
  std::string token = create_token(d, "ci");
  auto with = [&](const std::string& t) {
    return curl({"--cacert", pki.path("ca.pem"), "-i", "-H", "Authorization: Bearer " + t, url});
  };
  const std::string guess = "svc_" + token_id(token) + "_" + std::string(48, 'a');

  // One bad token, then the right one: it works.
  CHECK(with(guess).exit_code == 401);
  CHECK(with(token).exit_code == 200);
  // Nine more bad ones reach the limit of 10 a minute...
  for (int i = 0; i < 9; ++i) CHECK(with(guess).exit_code == 401);
  // ... and then even the right token waits, told for how long, over REST and gRPC alike.
  auto limited = with(token);
  CHECK(limited.exit_code == 429);
  CHECK(limited.out.find("Retry-After:") != std::string::npos);
  CHECK(limited.out.find("too many failed authentications from 127.0.0.1") != std::string::npos);
  auto grpc = run({svctl_path(), "--host", fmt::format("tcps://127.0.0.1:{}", port), "--ca",
                   pki.path("ca.pem"), "--token", token, "node", "info"});
  CHECK(grpc.exit_code == 1);
  CHECK(grpc.err.find("too many failed authentications") != std::string::npos);
  // The unix socket is not affected.
  CHECK(d.svctl({"node", "info"}).exit_code == 0);

  // Logged with the peer and the token's public id, never its secret.
  std::string log = d.log();
  CHECK(log.find("failed authentication from 127.0.0.1:") != std::string::npos);
  CHECK(log.find("token id " + token_id(token)) != std::string::npos);
  CHECK(log.find(std::string(48, 'a')) == std::string::npos);
  CHECK(log.find(token.substr(17)) == std::string::npos);
}

TEST_CASE("a TCP address other machines can reach needs TLS", "[daemon][tls]") {
  TempDir dir;
  auto conf = dir.path() / "svcd.toml";
  REQUIRE(write_file_atomic(conf, "[api]\ntcp = \"0.0.0.0:7070\"\n"));
  auto r = run({svcd_path(), "--config", conf.string(), "--state-dir", (dir.path() / "s").string(),
                "--run-dir", (dir.path() / "r").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("api.tcp \"0.0.0.0:7070\" can be reached from other machines") !=
        std::string::npos);
  CHECK(r.err.find("api.tls_cert") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "s"));  // nothing was made

  REQUIRE(write_file_atomic(conf, "[api]\ntls_cert = \"/x.pem\"\n"));
  auto half = run({svcd_path(), "--config", conf.string()});
  CHECK(half.exit_code == 2);
  CHECK(half.err.find("go together") != std::string::npos);
}
