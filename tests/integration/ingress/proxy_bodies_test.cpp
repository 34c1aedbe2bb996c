// Bodies through the real proxy: chunked both ways, Content-Length kept, HTTP/1.0 clients,
// HEAD, Expect: 100-continue (answered once the instance is reached, so a client holding a big
// body does not send it while an instance starts), and big bodies streamed both ways while the
// test watches its own memory (the proxy runs in this process): never held whole.
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "tests/integration/ingress/proxy_fixture.hpp"
#include "tests/support/process.hpp"

namespace {
// ASan's quarantine keeps freed blocks resident (256 MiB by default), so under it resident
// memory says nothing about what the proxy holds: the transfers are still checked, not growth.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMemoryMeasurable = false;
#else
constexpr bool kMemoryMeasurable = true;
#endif

void check_growth(std::size_t growth) {
  INFO("memory growth " << growth);
  if (kMemoryMeasurable)
    CHECK(growth < 16u << 20);
  else
    WARN("memory growth not checked under ASan (" << growth << " bytes)");
}
}  // namespace

using namespace svc;
using namespace svc::ingress;
using namespace svc::ingress::test;
using namespace svc::test;
using namespace std::chrono_literals;

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// Resident memory of this process, in bytes.
std::size_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

// Samples the process's resident memory until stopped; the peak over the baseline.
class MemoryWatch {
 public:
  MemoryWatch() : base_(rss_bytes()), thread_([this] { run(); }) {}
  ~MemoryWatch() { stop(); }
  std::size_t growth() {
    stop();
    return peak_ > base_ ? peak_ - base_ : 0;
  }

 private:
  void run() {
    while (!done_) {
      peak_ = std::max(peak_.load(), rss_bytes());
      std::this_thread::sleep_for(2ms);  // a sampling period, not a wait for an event
    }
  }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t base_;
  std::atomic<std::size_t> peak_{0};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("bodies: chunked both ways, Content-Length kept, HTTP/1.0 and HEAD",
          "[ingress][proxy][bodies]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  HttpConnection c(f.port());
  // A chunked request body reaches the instance whole; its chunked answer comes back chunked.
  REQUIRE(
      c.send("POST /echo HTTP/1.1\r\nHost: hello.localhost\r\nTransfer-Encoding: chunked\r\n"
             "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto echo = c.read_response();
  REQUIRE(echo);
  CHECK(echo->status == 200);
  CHECK(echo->chunked);
  CHECK(echo->body == "hello world");
  // Chunked from the instance, and Content-Length as the instance sent it.
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/bytes?n=100000&chunked=1")));
  auto chunked = c.read_response();
  REQUIRE(chunked);
  CHECK(chunked->chunked);
  CHECK(chunked->body == pattern(100000));
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/bytes?n=100000")));
  auto sized = c.read_response();
  REQUIRE(sized);
  CHECK_FALSE(sized->chunked);
  CHECK(sized->header("Content-Length") == "100000");
  CHECK(sized->body == pattern(100000));
  // HEAD: the length without the body; the connection goes on.
  REQUIRE(c.send(request_bytes("HEAD", "hello.localhost", "/bytes?n=100")));
  auto head = c.read_response(/*head_only=*/true);
  REQUIRE(head);
  CHECK(head->header("Content-Length") == "100");
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/status?code=204")));
  auto empty = c.read_response();
  REQUIRE(empty);
  CHECK(empty->status == 204);
  REQUIRE(c.send(request_bytes("GET", "hello.localhost", "/")));
  CHECK(c.read_response()->status == 200);

  // An HTTP/1.0 client cannot read chunked: the body ends with the connection.
  HttpConnection old(f.port());
  REQUIRE(old.send("GET /bytes?n=5000&chunked=1 HTTP/1.0\r\nHost: hello.localhost\r\n\r\n"));
  auto r10 = old.read_response();
  REQUIRE(r10);
  CHECK(r10->status == 200);
  CHECK_FALSE(r10->chunked);
  CHECK(r10->body == pattern(5000));
  // HTTP/1.0 with keep-alive and a sized body keeps the connection.
  HttpConnection ka(f.port());
  for (int i = 0; i < 2; ++i) {
    REQUIRE(
        ka.send("GET /bytes?n=10 HTTP/1.0\r\nHost: hello.localhost\r\nConnection: "
                "keep-alive\r\n\r\n"));
    auto r = ka.read_response();
    REQUIRE(r);
    CHECK(r->body == pattern(10));
    CHECK(r->header("Connection") == "keep-alive");
  }
}

TEST_CASE("bodies: Expect: 100-continue is answered once an instance has the request",
          "[ingress][proxy][bodies]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  HttpConnection c(f.port(), 20s);
  REQUIRE(
      c.send("POST /echo HTTP/1.1\r\nHost: hello.localhost\r\nContent-Length: 11\r\n"
             "Expect: 100-continue\r\n\r\n"));
  // At zero instances the request is held and no 100 comes: the client keeps its body.
  REQUIRE(f.cp.wait_event("demand hello-00001 1"));
  f.warm("hello-00001");
  auto interim = c.read_response();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c.send("hello world"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello world");
  // On a warm service the 100 comes at once; a second request on the connection works.
  REQUIRE(
      c.send("PUT /echo HTTP/1.1\r\nHost: hello.localhost\r\nTransfer-Encoding: chunked\r\n"
             "Expect: 100-continue\r\n\r\n"));
  CHECK(c.read_response()->status == 100);
  REQUIRE(c.send("3\r\nabc\r\n0\r\n\r\n"));
  auto again = c.read_response();
  REQUIRE(again);
  CHECK(again->body == "abc");
  // A queue that refuses answers without 100, and the unread body closes the connection.
  f.proxy->set_route(ServiceRoute{"full", {TrafficTarget{"full-00001", 100, ""}}, 0, 30s});
  HttpConnection d(f.port());
  REQUIRE(
      d.send("POST /echo HTTP/1.1\r\nHost: full.localhost\r\nContent-Length: 100000\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto refused = d.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->header("Connection") == "close");
}

TEST_CASE("bodies: 64 MiB up and down through /echo, streamed, never held whole",
          "[ingress][proxy][bodies][memory]") {
  ProxyFixture f;
  f.route("hello", "hello-00001");
  f.warm("hello-00001");
  TempDir dir;
  std::string in = (dir.path() / "in").string(), out = (dir.path() / "out").string();
  {
    std::ofstream file(in, std::ios::binary);
    std::string block = pattern(1 << 20);
    for (int i = 0; i < 64; ++i)
      file.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  std::string url = "http://127.0.0.1:" + std::to_string(f.port()) + "/echo";
  MemoryWatch watch;
  // curl -T streams the file (with Expect: 100-continue) and writes the echo as it comes.
  auto r = run({"curl", "-sS", "-T", in, "-X", "POST", "-H", "Host: hello.localhost", "-o", out,
                "-w", "%{http_code} %{size_upload} %{size_download}", url},
               120s);
  std::size_t growth = watch.growth();
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "200 67108864 67108864");
  CHECK(run({"cmp", in, out}).exit_code == 0);
  check_growth(growth);

  // A 256 MiB download: the proxy reads from the instance only as fast as the client takes.
  MemoryWatch down;
  auto d = run({"curl", "-sS", "-H", "Host: hello.localhost", "-o", "/dev/null", "-w",
                "%{http_code} %{size_download}",
                "http://127.0.0.1:" + std::to_string(f.port()) + "/bytes?n=268435456"},
               120s);
  std::size_t down_growth = down.growth();
  REQUIRE(d.exit_code == 0);
  CHECK(d.out == "200 268435456");
  check_growth(down_growth);
}
