// The registry as it really behaves, and misbehaves: token auth (anonymous and with
// credentials from an auth file), and a fault-injecting proxy in front of the real registry
// that corrupts, hangs, cuts, redirects or fails a blob. Each ends with a clear error or a
// correct resume, and never leaves a partial blob or snapshot behind.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_fixture.hpp"
#include "tests/support/fault_proxy.hpp"
#include "tests/support/image_builder.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/token_server.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

ImageBuilder busybox_image() {
  ImageBuilder b;
  b.layer(LayerBuilder()
              .dir("bin")
              .file_from("bin/busybox", "/bin/busybox", 0755)
              .symlink("bin/sh", "busybox"));
  b.layer(LayerBuilder().file("etc/hostname", "faulty\n"));
  b.config().cmd = {"/bin/sh"};
  return b;
}

std::unique_ptr<DaemonFixture> daemon_for(const std::vector<std::string>& insecure,
                                          const std::string& extra = "") {
  std::string list;
  for (const auto& h : insecure) list += (list.empty() ? "\"" : ", \"") + h + "\"";
  DaemonFixture::Options o;
  o.extra_config =
      "[registries]\ninsecure = [" + list + "]\nstall_timeout = \"2s\"\nmax_attempts = 2\n" + extra;
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  return d;
}

// Nothing half-written: no temp blobs, no temp snapshots, and the named blob absent.
void check_nothing_partial(const DaemonFixture& d, const std::string& digest = "") {
  CHECK(fs::is_empty(d.state_dir() / "content/ingest"));
  for (const auto& e : fs::directory_iterator(d.state_dir() / "snapshots"))
    CHECK(!e.path().filename().string().starts_with(".tmp-"));
  if (!digest.empty())
    CHECK(!fs::exists(d.state_dir() / "content/blobs/sha256" / digest.substr(7)));
}

// nginx with auth_basic in front of the registry: a registry that wants Basic credentials.
// Owns the nginx process (stopped at destruction) and its temp dir.
class BasicAuthFront {
 public:
  BasicAuthFront(int registry_port, const std::string& user, const std::string& password)
      : dir_("svc-nginx-") {
    auto hash = run({"openssl", "passwd", "-apr1", password});
    REQUIRE(hash.exit_code == 0);
    std::ofstream(dir_.path() / "htpasswd") << user << ":" << hash.out;
    port_ = free_port();
    std::string d = dir_.path().string();
    for (const char* sub : {"body", "proxy", "fcgi", "uwsgi", "scgi"})
      fs::create_directories(dir_.path() / sub);
    std::ofstream(dir_.path() / "nginx.conf")
        // The workers run as root so that they can read the 0700 temp dir (a test-only nginx).
        << "user root;\nworker_processes 1;\ndaemon off;\npid " << d << "/nginx.pid;\nerror_log "
        << d << "/error.log;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
        << "  fastcgi_temp_path " << d << "/fcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
        << "  scgi_temp_path " << d << "/scgi;\n"
        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    client_max_body_size 0;\n"
        << "    location /v2/ {\n      auth_basic \"svc test registry\";\n      "
           "auth_basic_user_file "
        << d << "/htpasswd;\n      proxy_pass http://127.0.0.1:" << registry_port << ";\n"
        << "      proxy_set_header Host $http_host;\n      proxy_buffering off;\n    }\n  }\n}\n";
    proc_ = std::make_unique<Background>(
        std::vector<std::string>{"nginx", "-e", d + "/error.log", "-p", d, "-c", d + "/nginx.conf"},
        d + "/out.log");
    bool up =
        wait_for([&] { return connectable(port_) || !proc_->running(); }, std::chrono::seconds(10));
    REQUIRE(up);
    REQUIRE(proc_->running());
  }
  ~BasicAuthFront() {
    if (proc_) proc_->stop(SIGTERM, std::chrono::seconds(5));
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  static bool connectable(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Background> proc_;
};

}  // namespace

TEST_CASE("faults between svcd and the registry", "[images][registry][faults]") {
  RegistryFixture reg;
  reg.start();
  fs::path layout = reg.dir() / "bb";
  WrittenImage w = busybox_image().write_layout(layout, "t");
  reg.push_layout(layout, "t", "faults/bb:1");
  FaultProxy proxy(reg.port());
  proxy.start();
  auto d = daemon_for({reg.host(), proxy.host()});
  std::string via_proxy = proxy.host() + "/faults/bb:1";
  const std::string big_layer = w.layer_digests[0];

  SECTION("a corrupted blob: clear digest error, nothing stored") {
    proxy.set_mode(FaultProxy::Mode::kCorruptBlob);
    auto r = d->svctl({"pull", via_proxy});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("hash to") != std::string::npos);
    CHECK(r.err.find(big_layer) != std::string::npos);
    CHECK(proxy.faults() >= 1);
    check_nothing_partial(*d, big_layer);
    CHECK(d->svctl({"images", "-o", "json"}).out.find("faults/bb") == std::string::npos);
  }
  SECTION("a hung registry: the stall timeout ends the pull with a clear error") {
    proxy.set_mode(FaultProxy::Mode::kHangBlob);
    auto start = std::chrono::steady_clock::now();
    auto r = d->svctl({"pull", via_proxy});
    auto took = std::chrono::steady_clock::now() - start;
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("sent nothing for 2 s") != std::string::npos);
    CHECK(r.err.find("gave up after 2 attempts") != std::string::npos);
    CHECK(took < std::chrono::seconds(30));
    check_nothing_partial(*d, big_layer);
  }
  SECTION("a pull whose client goes away is cancelled at once and leaves nothing") {
    proxy.set_mode(FaultProxy::Mode::kHangBlob);
    DaemonFixture::Options o;
    o.extra_config =
        "[registries]\ninsecure = [\"" + proxy.host() + "\"]\nstall_timeout = \"60s\"\n";
    DaemonFixture patient(o);
    patient.start();
    Background client({svctl_path(), "--host", patient.host(), "pull", via_proxy},
                      (reg.dir() / "client.log").string());
    REQUIRE(wait_for([&] { return proxy.faults() >= 1; }, std::chrono::seconds(20)));
    client.stop(SIGKILL, std::chrono::seconds(5));
    auto t = std::chrono::steady_clock::now();
    bool ended = wait_for([&] { return patient.log().find("cancelled") != std::string::npos; },
                          std::chrono::seconds(10));
    INFO(patient.log());
    CHECK(ended);
    CHECK(std::chrono::steady_clock::now() - t < std::chrono::seconds(10));
    CHECK(wait_for([&] { return fs::is_empty(patient.state_dir() / "content/ingest"); },
                   std::chrono::seconds(5)));
    check_nothing_partial(patient, big_layer);
  }
  SECTION("a blob cut half-way is resumed with a Range request") {
    proxy.set_mode(FaultProxy::Mode::kCutBlobOnce);
    auto r = d->svctl({"pull", via_proxy});
    INFO(r.out << r.err << d->log());
    REQUIRE(r.exit_code == 0);
    CHECK(proxy.faults() == 1);
    CHECK(proxy.range_requests() >= 1);
    CHECK(d->log().find("connection cut") != std::string::npos);
    auto im = json::parse(d->svctl({"image", "inspect", via_proxy, "-o", "json"}).out);
    fs::path snap =
        d->state_dir() / "snapshots" / im["layers"][0]["chainId"].get<std::string>().substr(7);
    std::ifstream a(snap / "bin/busybox", std::ios::binary), b("/bin/busybox", std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(a), {}) ==
          std::string(std::istreambuf_iterator<char>(b), {}));
    check_nothing_partial(*d);
  }
  SECTION("a 503 is retried with back-off") {
    proxy.set_mode(FaultProxy::Mode::k503Once);
    auto r = d->svctl({"pull", via_proxy});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(proxy.faults() == 1);
  }
  SECTION("blob downloads redirected elsewhere are followed") {
    proxy.set_mode(FaultProxy::Mode::kRedirectBlob);
    auto r = d->svctl({"pull", via_proxy});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(proxy.faults() >= 2);
  }
  SECTION("mirrors are tried first; a dead mirror falls back to the next endpoint") {
    // "mirror.invalid" is never reachable (RFC 6761): everything comes through its mirrors.
    DaemonFixture::Options o;
    o.extra_config =
        "[registries]\nstall_timeout = \"2s\"\nmax_attempts = 1\n"
        "[registries.mirrors]\n\"mirror.invalid\" = [\"http://127.0.0.1:1\", \"http://" +
        reg.host() + "\"]\n";
    DaemonFixture m(o);
    m.start();
    auto r = m.svctl({"pull", "mirror.invalid/faults/bb:1", "-o", "json"});
    INFO(r.out << r.err << m.log());
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out)["reference"] == "mirror.invalid/faults/bb:1");
    CHECK(m.log().find("mirror http://127.0.0.1:1 failed") != std::string::npos);
  }
  SECTION("concurrent pulls of one image share the downloads; a present blob is never fetched") {
    auto p1 = std::async(std::launch::async, [&] { return d->svctl({"pull", via_proxy}); });
    auto p2 = std::async(std::launch::async, [&] { return d->svctl({"pull", via_proxy}); });
    auto r1 = p1.get(), r2 = p2.get();
    INFO(r1.err << r2.err);
    CHECK(r1.exit_code == 0);
    CHECK(r2.exit_code == 0);
    // Two layers fetched once each, plus each pull's own (small) config.
    CHECK(proxy.blob_requests() <= 4);
    int before = proxy.blob_requests();
    CHECK(d->svctl({"pull", via_proxy}).exit_code == 0);
    CHECK(proxy.blob_requests() == before + 1);  // the config only
  }
}

TEST_CASE("a registry that demands a token", "[images][registry][auth]") {
  RegistryFixture reg;
  reg.start();
  reg.push(busybox_image(), "private/bb:1");

  SECTION("credentials from the auth file; none is a clear error") {
    TokenServer tokens("alice", "s3cret");
    tokens.start();
    reg.start(tokens.registry_auth_yaml());  // same storage and port, now with token auth
    std::string ref = reg.host() + "/private/bb:1";

    auto anon = daemon_for({reg.host()});
    auto r = anon->svctl({"pull", ref});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("refused an anonymous pull") != std::string::npos);
    CHECK(r.err.find("auth_file") != std::string::npos);
    anon.reset();

    fs::path auth = reg.dir() / "config.json";
    std::ofstream(auth) << R"({"auths":{")" << reg.host()
                        << R"(":{"username":"alice","password":"s3cret"}}})";
    auto d = daemon_for({reg.host()}, "auth_file = \"" + auth.string() + "\"\n");
    auto ok = d->svctl({"pull", ref});
    INFO(ok.out << ok.err << d->log());
    CHECK(ok.exit_code == 0);
    CHECK(tokens.tokens_issued() >= 1);

    std::ofstream(auth) << R"({"auths":{")" << reg.host()
                        << R"(":{"username":"alice","password":"wrong"}}})";
    auto bad = daemon_for({reg.host()}, "auth_file = \"" + auth.string() + "\"\n");
    auto refused = bad->svctl({"pull", ref});
    CHECK(refused.exit_code == 4);
    CHECK(refused.err.find("refused the credentials from the auth file") != std::string::npos);
  }
  SECTION("anonymous tokens") {
    TokenServer tokens;
    tokens.start();
    reg.start(tokens.registry_auth_yaml());
    auto d = daemon_for({reg.host()});
    auto r = d->svctl({"pull", reg.host() + "/private/bb:1"});
    INFO(r.out << r.err << d->log());
    CHECK(r.exit_code == 0);
    CHECK(tokens.tokens_issued() >= 1);
  }
}

TEST_CASE("a registry behind Basic auth (nginx)", "[images][registry][auth]") {
  RegistryFixture reg;
  reg.start();
  reg.push(busybox_image(), "basic/bb:1");
  BasicAuthFront front(reg.port(), "bob", "hunter2");
  std::string ref = front.host() + "/basic/bb:1";

  auto anon = daemon_for({front.host()});
  auto r = anon->svctl({"pull", ref});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("asks for a user name and password") != std::string::npos);
  anon.reset();

  fs::path auth = reg.dir() / "basic-config.json";
  std::ofstream(auth) << R"({"auths":{"http://)" << front.host() << R"(/":{"auth":")"
                      << "Ym9iOmh1bnRlcjI=" /* base64("bob:hunter2") */ << R"("}}})";
  auto d = daemon_for({front.host()}, "auth_file = \"" + auth.string() + "\"\n");
  auto ok = d->svctl({"pull", ref});
  INFO(ok.out << ok.err << d->log());
  CHECK(ok.exit_code == 0);
}
